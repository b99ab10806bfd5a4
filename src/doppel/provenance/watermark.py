"""The invisible watermark: a 64-bit payload spread over 8x8 luma blocks, found again after
JPEG, H.264, resizing to 50 %, cropping and brightness/contrast changes.

Scheme (doppel-wm v1). The payload plus a 48-bit check (a hash of it) make 112 code bits.
A tile of 12x12 blocks holds them: each block of the tile carries one code bit, multiplied by a
fixed pseudo-random chip sign, by adding +/- `strength` times a fixed 8x8 pattern made of
low/mid-frequency DCT basis functions (which JPEG, H.264 and halving the size keep). The tile
repeats over the whole picture, so every bit is carried by many blocks and a crop still holds
whole tiles. The same pattern is added to R, G and B, so only luma changes and colour is kept.

Decoding takes out the picture's local mean, correlates each block with the pattern and sums,
per code bit, over every block that carries it (soft repetition decoding); for a video see
`detect_frames`. A crop moves the block grid and the tile: the decoder tries all
64 grid offsets, all 144 tile phases and two scales (as is, and 2x for a picture halved in
size). A candidate is accepted only if the 48-bit check of its payload matches, after trying
to flip up to `CHASE_BITS` of its least reliable bits (Chase decoding) on the strongest few
candidates. False-positive bound per picture, counting every hypothesis tested:
    (2 scales x 64 offsets x 144 phases + 2 x TOP x 2^CHASE_BITS) x 2^-48 ≈ 3e-10  (< 1e-6),
and per clip 17 times that (the sum of all frames plus up to 16 single frames): 5e-9.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

BLOCK = 8
TILE = 12  # blocks per tile side: 144 blocks >= 112 code bits
PAYLOAD_BITS = 64
CHECK_BITS = 48
CODE_BITS = PAYLOAD_BITS + CHECK_BITS
CHASE_BITS = 14  # least reliable bits tried flipped (measured: near misses were 13th-17th)
TOP = 2  # most reliable candidates per scale that get Chase decoding
SCALES = (1, 2)  # picture as is; picture upscaled 2x (it had been halved)
DEFAULT_STRENGTH = 21.0  # pattern amplitude (L2 over a textured block): 2.6 luma levels RMS
MASK_TEXTURE = 14.0  # block standard deviation at which the full strength is used
MASK_FLOOR = 0.3  # share of the strength flat blocks get
_DOMAIN = b"doppel-wm-v1"
# Detection subtracts a 5x5 local mean first: the picture's smooth part holds no mark but
# most of the energy the correlation would otherwise pick up (raised JPEG q50 confidence from
# 0.65 to 0.68 and let H.264 CRF 28 decode where it did not).
WHITEN = 5
# DCT frequencies (vertical, horizontal) of the 8x8 pattern: low enough to survive JPEG,
# H.264 and halving, not so low that the block structure shows.
_FREQUENCIES = ((1, 2), (2, 1), (2, 2), (1, 3), (3, 1))
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)

FRAME_TRIES = 16  # single frames a clip decision may also try
FRAME_STRIDE = 10  # every 10th frame, from the first, until FRAME_TRIES are kept

HYPOTHESES = len(SCALES) * BLOCK * BLOCK * TILE * TILE + len(SCALES) * TOP * 2**CHASE_BITS
FALSE_POSITIVE_BOUND = HYPOTHESES * 2.0**-CHECK_BITS  # per picture
CLIP_FALSE_POSITIVE_BOUND = (1 + FRAME_TRIES) * FALSE_POSITIVE_BOUND


@dataclass(frozen=True)
class Detection:
    """What the decoder found. `payload` is None when no watermark was found.

    confidence: fraction of blocks whose sign agrees with the decoded code bits (0.5 is
    chance, 1.0 a pristine mark; 0.0 when nothing was found); offset/scale: the hypothesis
    that matched; bit_errors: bits the Chase decoder had to flip.
    """

    payload: int | None
    confidence: float
    offset: tuple[int, int] = (0, 0)
    scale: int = 1
    bit_errors: int = 0


def _rng() -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(_DOMAIN).digest()[:8], "big"))


def _tables() -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.float32]]:
    """The 8x8 pattern, the code bit of each tile cell, and each cell's chip sign."""
    rng = _rng()
    x = np.arange(BLOCK)
    pattern = np.zeros((BLOCK, BLOCK), np.float64)
    for u, v in _FREQUENCIES:
        basis = np.outer(np.cos((2 * x + 1) * u * np.pi / 16), np.cos((2 * x + 1) * v * np.pi / 16))
        pattern += rng.choice((-1.0, 1.0)) * basis / np.linalg.norm(basis)
    pattern /= np.linalg.norm(pattern)
    cells = TILE * TILE
    bit_of_cell = rng.permutation(np.arange(cells) % CODE_BITS)
    chips = rng.choice((-1.0, 1.0), size=cells)
    return pattern.astype(np.float32), bit_of_cell, chips.astype(np.float32)


_PATTERN, _BIT_OF_CELL, _CHIPS = _tables()
# cells x code bits: the chip sign where a cell carries that bit, else 0.
_SPREAD = np.zeros((TILE * TILE, CODE_BITS), np.float32)
_SPREAD[np.arange(TILE * TILE), _BIT_OF_CELL] = _CHIPS


def _check(payload: int) -> int:
    """The 48 check bits: a hash of the payload, so a random word passes with p = 2^-48."""
    digest = hashlib.sha256(_DOMAIN + payload.to_bytes(PAYLOAD_BITS // 8, "big")).digest()
    return int.from_bytes(digest[: CHECK_BITS // 8], "big")


def _code_bits(payload: int) -> npt.NDArray[np.float32]:
    """+1/-1 per code bit: the payload's 64 bits then its 48 check bits, MSB first."""
    word = (payload << CHECK_BITS) | _check(payload)
    bits = [(word >> (CODE_BITS - 1 - i)) & 1 for i in range(CODE_BITS)]
    return np.where(np.array(bits) == 1, 1.0, -1.0).astype(np.float32)


class Watermarker:
    """Marks pictures with one payload; keeps the pattern for the last picture size it saw.

    The pattern's amplitude follows each block's texture (standard deviation of green, a
    cheap stand-in for luma): flat areas, where a change is easiest to see, get
    `MASK_FLOOR` of it, textured ones all of it. Measured on 13 720p pictures: PSNR >= 40 dB, SSIM
    >= 0.985 (see BENCHMARKS.md).
    """

    def __init__(self, payload: int, strength: float = DEFAULT_STRENGTH) -> None:
        if not 0 <= payload < 2**PAYLOAD_BITS:
            raise ValueError("payload must be a 64-bit unsigned integer")
        self.payload = payload
        self.strength = strength
        self._cell_signs = (_SPREAD @ _code_bits(payload)).reshape(TILE, TILE)
        self._size: tuple[int, int] | None = None
        self._blocks: npt.NDArray[np.float32] | None = None

    def mark(self, rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
        """RGB uint8 HxWx3 in, the same picture carrying the watermark out."""
        height, width = rgb.shape[:2]
        rows, cols = -(-height // BLOCK), -(-width // BLOCK)
        if self._size != (height, width):
            signs = np.tile(self._cell_signs, (-(-rows // TILE), -(-cols // TILE)))[:rows, :cols]
            self._blocks = signs[:, None, :, None] * _PATTERN[None, :, None, :]
            self._size = (height, width)
        amplitude = self.strength * self._masking(rgb, rows, cols)
        delta = (self._blocks * amplitude[:, None, :, None]).reshape(rows * BLOCK, cols * BLOCK)
        delta = np.rint(delta[:height, :width])
        # Saturating uint8 add and subtract on contiguous arrays: widening the picture to
        # int16, or broadcasting over the channel axis, costs 2-3x more.
        up = _three_channels(np.clip(delta, 0, 255).astype(np.uint8))
        down = _three_channels(np.clip(-delta, 0, 255).astype(np.uint8))
        marked = np.minimum(rgb, 255 - up)
        marked += up
        np.maximum(marked, down, out=marked)
        marked -= down
        return marked

    @staticmethod
    def _masking(rgb: npt.NDArray[np.uint8], rows: int, cols: int) -> npt.NDArray[np.float32]:
        """Per block: share of the strength, from the texture of every other green pixel."""
        half = BLOCK // 2
        green = np.zeros((rows * half, cols * half), np.float32)
        sample = rgb[::2, ::2, 1]
        green[: sample.shape[0], : sample.shape[1]] = sample
        blocks = green.reshape(rows, half, cols, half)
        mean = blocks.mean(axis=(1, 3))
        power = np.einsum("aibj,aibj->ab", blocks, blocks) / (half * half)
        texture = np.sqrt(np.maximum(power - mean * mean, 0.0))
        return np.clip(texture / MASK_TEXTURE, MASK_FLOOR, 1.0)


def _three_channels(plane: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    out = np.empty((*plane.shape, 3), np.uint8)
    out[..., 0] = out[..., 1] = out[..., 2] = plane
    return out


def luma(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    return rgb.astype(np.float32) @ _LUMA


def detect_frames(frames: Iterable[npt.NDArray[np.uint8]]) -> Detection:
    """Find the watermark in the frames of one clip (RGB uint8 HxWx3, all one size).

    First the decision over the whole clip: the frames' lumas are summed, so a mark that stays
    put adds up while the picture and the codec's noise average out. Where the picture moves,
    H.264's motion compensation drags the mark along in predicted frames and the sum blurs
    it; then up to `FRAME_TRIES` single frames are tried (the first one, an intra-coded
    frame, keeps the mark best). The false-positive bound per clip is therefore
    (1 + FRAME_TRIES) x FALSE_POSITIVE_BOUND.
    """
    total: npt.NDArray[np.float32] | None = None
    kept: list[npt.NDArray[np.float32]] = []
    for index, rgb in enumerate(frames):
        picture = luma(rgb)
        total = picture if total is None else total + picture
        if index % FRAME_STRIDE == 0 and len(kept) < FRAME_TRIES:
            kept.append(picture)
    if total is None:
        raise ValueError("detect_frames needs at least one frame")
    found = detect(total)
    for picture in kept if found.payload is None else ():
        found = detect(picture)
        if found.payload is not None:
            break
    return found


def detect(luma_sum: npt.NDArray[np.float32]) -> Detection:
    """Find the watermark in a luma picture (float HxW), or a sum of frames' lumas."""
    for scale in SCALES:
        picture = _upscale(luma_sum, scale)
        if picture.shape[0] < BLOCK * TILE // 2 or picture.shape[1] < BLOCK * TILE // 2:
            continue
        found = _detect_at_scale(picture)
        if found.payload is not None:
            return Detection(found.payload, found.confidence, found.offset, scale,
                             found.bit_errors)
    return Detection(None, 0.0)


def soft_bits(luma_sum: npt.NDArray[np.float32], scale: int = 1) -> npt.NDArray[np.float64]:
    """The 112 soft code bits (payload then check, MSB first; > 0 reads as 1) of the most
    reliable grid offset and tile phase at `scale`: what the decoder sees before the check
    and Chase decoding. For measuring bit accuracy; `detect` is the decision."""
    correlations = _correlation_map(_upscale(luma_sum, scale))
    best, best_reliability = np.zeros(CODE_BITS), -1.0
    for dy, dx in itertools.product(range(BLOCK), range(BLOCK)):
        soft = _fold(correlations[dy::BLOCK, dx::BLOCK]).ravel()[_PHASES] @ _SPREAD
        reliability = np.abs(soft).sum(axis=1)
        phase = int(np.argmax(reliability))
        if reliability[phase] > best_reliability:
            best, best_reliability = soft[phase], float(reliability[phase])
    return best


def _upscale(picture: npt.NDArray[np.float32], scale: int) -> npt.NDArray[np.float32]:
    if scale == 1:
        return picture
    height, width = picture.shape
    image = Image.fromarray(np.ascontiguousarray(picture, np.float32), mode="F")
    return np.asarray(image.resize((width * scale, height * scale), Image.Resampling.BILINEAR))


def _correlation_map(picture: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Correlation of the pattern with the 8x8 window at every pixel; the block grid with
    offset (dy, dx) is then `map[dy::8, dx::8]`. One convolution serves all 64 offsets."""
    import torch  # its convolution is ~20x faster here than numpy's strided alternatives

    image = torch.from_numpy(np.require(picture, np.float32, ['C', 'W']))[None, None]
    kernel = torch.from_numpy(_PATTERN)[None, None]
    with torch.no_grad():
        if WHITEN:
            blur = torch.nn.functional.avg_pool2d(image, WHITEN, stride=1, padding=WHITEN // 2,
                                                  count_include_pad=False)
            image = image - blur
        return torch.nn.functional.conv2d(image, kernel)[0, 0].numpy()


def _fold(correlations: np.ndarray) -> np.ndarray:
    """Sum block correlations into the 12x12 tile cells they fall on (phase 0)."""
    rows, cols = correlations.shape
    padded = np.zeros((-(-rows // TILE) * TILE, -(-cols // TILE) * TILE), np.float64)
    padded[:rows, :cols] = correlations
    return padded.reshape(-1, TILE, padded.shape[1] // TILE, TILE).sum(axis=(0, 2))


def _phase_indices() -> np.ndarray:
    """For each tile phase (py, px): the folded-cell index holding each tile cell."""
    index = np.empty((TILE * TILE, TILE * TILE), np.int64)
    cells = np.arange(TILE)
    for n, (py, px) in enumerate(itertools.product(range(TILE), range(TILE))):
        index[n] = (((cells[:, None] + py) % TILE) * TILE + (cells[None, :] + px) % TILE).ravel()
    return index


_PHASES = _phase_indices()


def _detect_at_scale(picture: np.ndarray) -> Detection:
    candidates = []  # (reliability, soft code bits, dy, dx, phase)
    correlations = _correlation_map(picture)
    for dy, dx in itertools.product(range(BLOCK), range(BLOCK)):
        folded = _fold(correlations[dy::BLOCK, dx::BLOCK]).ravel()
        soft = folded[_PHASES] @ _SPREAD  # tile phases x code bits
        for phase, payload in _hard_decode(soft):
            return _describe(correlations[dy::BLOCK, dx::BLOCK], (dy, dx), phase, payload, 0)
        reliability = np.abs(soft).sum(axis=1)
        for phase in np.argsort(reliability)[-TOP:]:
            candidates.append((reliability[phase], soft[phase], dy, dx, int(phase)))
    candidates.sort(key=lambda c: c[0])
    for _, soft, dy, dx, phase in candidates[-TOP:]:
        found = _chase_decode(soft)
        if found is not None:
            return _describe(correlations[dy::BLOCK, dx::BLOCK], (dy, dx), phase, *found)
    return Detection(None, 0.0)


def _valid_payloads(bits: np.ndarray):
    """(row, payload) for each row of 112 hard bits whose 48-bit check matches its payload."""
    for row, word in enumerate(np.packbits(bits, axis=1)):
        payload = word[: PAYLOAD_BITS // 8].tobytes()
        if hashlib.sha256(_DOMAIN + payload).digest()[: CHECK_BITS // 8] == \
                word[PAYLOAD_BITS // 8:].tobytes():
            yield row, int.from_bytes(payload, "big")


def _hard_decode(soft: np.ndarray):
    """(row, payload) for each row of soft code bits whose check matches."""
    return _valid_payloads(soft > 0)


def _chase_decode(soft: np.ndarray) -> tuple[int, int] | None:
    """Try flipping every subset of the CHASE_BITS least reliable bits, fewest flips first."""
    weakest = np.argsort(np.abs(soft))[:CHASE_BITS]
    trials = np.repeat((soft > 0)[None, :], len(_FLIPS), axis=0)
    trials[:, weakest] ^= _FLIPS
    for row, payload in _valid_payloads(trials):
        return payload, int(_FLIPS[row].sum())
    return None


def _flip_patterns() -> np.ndarray:
    """All 2^CHASE_BITS subsets of the weakest bits as rows, ordered by how many they flip."""
    masks = (np.arange(2**CHASE_BITS)[:, None] >> np.arange(CHASE_BITS)) & 1
    masks = masks[np.argsort(masks.sum(axis=1), kind="stable")]
    return masks[1:].astype(bool)  # the empty subset is the hard decision, tried already


_FLIPS = _flip_patterns()


def _describe(correlations: np.ndarray, offset: tuple[int, int], phase: int, payload: int,
              flips: int) -> Detection:
    """Confidence: the share of blocks whose correlation sign matches the decoded mark."""
    rows, cols = correlations.shape
    py, px = divmod(phase, TILE)
    cell_signs = np.roll((_SPREAD @ _code_bits(payload)).reshape(TILE, TILE), (py, px), (0, 1))
    expected = np.tile(cell_signs, (-(-rows // TILE), -(-cols // TILE)))[:rows, :cols]
    agree = float((np.sign(correlations) == expected).mean())
    return Detection(payload, agree, offset, 1, flips)
