"""MinHash signatures (`kb.recurring.copies`): import, the similarity index and export rely on
the same text always getting the same bits, however it is batched or its shingles repeat."""

from __future__ import annotations

import random
import zlib

from kb.recurring import copies

MASK = (1 << 64) - 1


def reference(words: list[str], shingle: int = copies.SHINGLE) -> list[int]:
    """The signature by its definition, in Python integers: per position, the least high 32 bits
    of a_k x + b_k (mod 2**64) over every shingle x (its words' CRC-32s mixed), repeats included."""
    hashes = [zlib.crc32(w.lower().encode("utf-8")) for w in words]
    if not hashes:
        return [int(x) for x in copies.EMPTY]
    if len(hashes) < shingle:
        shingles = hashes
    else:
        shingles = []
        for i in range(len(hashes) - shingle + 1):
            x = hashes[i]
            for k in range(1, shingle):
                x = (x * int(copies._MIX) + hashes[i + k]) & MASK
            shingles.append(x)
    return [
        min(((int(a) * x + int(b)) & MASK) >> 32 for x in shingles)
        for a, b in zip(copies._A.tolist(), copies._B.tolist(), strict=True)
    ]


def test_signatures_are_the_minhash_of_every_shingle_repeats_or_not() -> None:
    rng = random.Random(7)
    vocabulary = ["resource", "aws_s3_bucket", "{", "}", "=", "true", "Bucket", "bucket", "é", "🔒", "policy"]
    texts = [[rng.choice(vocabulary) for _ in range(rng.choice([0, 1, 3, 4, 5, 40, 400]))] for _ in range(60)]
    texts.append(["same", "four", "word", "shingle"] * 200)  # one shingle set, many repeats
    texts.append(["x"] * 3)  # fewer words than a shingle: the words themselves, repeated
    expected = [reference(words) for words in texts]
    assert copies.signatures(texts).tolist() == expected
    assert [copies.signature(words).tolist() for words in texts] == expected  # one at a time, same bits
    assert copies.signatures(texts, shingle=5).tolist() == [reference(w, 5) for w in texts]
