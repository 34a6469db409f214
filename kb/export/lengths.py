"""Row lengths in tokens: what decides whether a row fits a trainer's ``max_length``.

The count is an estimate, one token per 4 UTF-8 bytes (byte-pair tokenizers of current
chat models average 3.5-4.5 bytes per token on English and code); the card says so.
"""

from __future__ import annotations

from typing import Any

from kb.export.dedup import row_text

TRL_MAX_LENGTH = 1024
"""TRL's default ``max_length`` (SFTConfig, DPOConfig): longer rows are truncated."""
BUDGETS = (512, 1024, 2048, 4096, 8192)
_PROMPTS = {"classify": ()}
_ANSWERS = {"sft": ("completion",), "fix": ("completion",), "critique": ("completion",), "classify": ("text",)}


def tokens(text: str) -> int:
    """The estimated token count of ``text``."""
    return (len(text.encode("utf-8")) + 3) // 4


class Lengths:
    """Collects the prompt, answer and whole-row lengths of the rows written."""

    def __init__(self, fmt: str) -> None:
        self.prompt_columns: tuple[str, ...] = _PROMPTS.get(fmt, ("prompt",))
        self.answer_columns: tuple[str, ...] = _ANSWERS.get(fmt, ("chosen", "rejected"))
        self.prompts: list[int] = []
        self.answers: list[int] = []
        self.totals: list[int] = []

    def _measure(self, row: dict[str, Any]) -> tuple[int, int]:
        prompt = sum(tokens(row_text(row.get(c))) for c in self.prompt_columns)
        answer = max((tokens(row_text(row.get(c))) for c in self.answer_columns), default=0)
        return prompt, answer

    def total(self, row: dict[str, Any]) -> int:
        """Prompt plus the longest answer: what one training sequence holds."""
        prompt, answer = self._measure(row)
        return prompt + answer

    def add(self, row: dict[str, Any]) -> None:
        prompt, answer = self._measure(row)
        self.prompts.append(prompt)
        self.answers.append(answer)
        self.totals.append(prompt + answer)

    def summary(self) -> dict[str, Any]:
        """Percentiles of each length and the share of rows over each budget."""
        figures: dict[str, Any] = {}
        for name, values in (("prompt", self.prompts), ("answer", self.answers), ("total", self.totals)):
            if not values or (name == "prompt" and not self.prompt_columns):
                continue
            ordered = sorted(values)
            figures[name] = {
                "median": ordered[len(ordered) // 2],
                "p90": ordered[min(len(ordered) - 1, len(ordered) * 9 // 10)],
                "max": ordered[-1],
            }
        n = len(self.totals) or 1
        figures["over"] = [
            (b, sum(t > b for t in self.totals), round(100 * sum(t > b for t in self.totals) / n, 1)) for b in BUDGETS
        ]
        figures["prompts_over_default"] = sum(p > TRL_MAX_LENGTH for p in self.prompts)
        return figures
