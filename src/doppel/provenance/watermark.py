"""The invisible watermark: a 64-bit payload spread over 8x8 luma blocks, found again after
JPEG, H.264, resizing to 50 %, cropping and brightness/contrast changes.

Scheme (doppel-wm v2). The payload and a 32-bit hash of it (96 bits) are encoded with a
systematic (112, 96) binary linear code (a fixed pseudo-random parity matrix): 112 code bits.
A tile of 12x12 blocks holds them: each block of the tile carries one code bit (32 of them
twice, which is what tells the right tile phase from the others), multiplied by a
fixed pseudo-random chip sign, by adding +/- `strength` times a fixed 8x8 pattern made of
low/mid-frequency DCT basis functions (which JPEG, H.264 and halving the size keep). The tile
repeats over the whole picture, so every bit is carried by many blocks and a crop still holds
whole tiles. The same pattern is added to R, G and B, so only luma changes and colour is kept.

Decoding takes out the picture's local mean, correlates each block with the pattern and sums,
per code bit, over every block that carries it (soft repetition decoding); for a video see
`detect_frames`. A crop moves the block grid and the tile: the decoder tries all
64 grid offsets, all 144 tile phases and two scales (as is, and 2x for a picture halved in
size). Every hypothesis is first read hard: it is accepted if its 16 parity bits and then its
32 hash bits match (a random word passes with p = 2^-48). The `TOP` most reliable hypotheses
of each scale are then decoded with ordered-statistics decoding (OSD, order 2): the 96 most
reliable independent bits are taken as right, up to two of them flipped, the rest re-encoded;
the codeword that best matches the soft bits wins and is accepted only if its hash matches.
Measured on H.264 CRF 28 frames, the wrong bits rank up to ~40th least reliable of 112: OSD
corrects them, the earlier Chase decoding over the 14 weakest bits of a 48-bit hash did not.
False-positive bound per picture, counting every hypothesis:
    2 scales x (64 offsets x 144 phases x 2^-48 + TOP x 2^-32) ≈ 1.0e-9  (< 1e-6),
and per clip 18 times that (the sum of all frames, up to 16 single frames and their aligned sum):
1.8e-8.
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
HASH_BITS = 32
MESSAGE_BITS = PAYLOAD_BITS + HASH_BITS
PARITY_BITS = 16  # 112 code bits in 144 cells: the 32 repeated give the tile phase away
CODE_BITS = MESSAGE_BITS + PARITY_BITS
OSD_FLIP_SPAN = 32  # order-2 flips are tried among this many least reliable basis bits
TOP = 2  # most reliable hypotheses per scale that get OSD decoding
SCALES = (1, 2)  # picture as is; picture upscaled 2x (it had been halved)
DEFAULT_STRENGTH = 21.0  # pattern amplitude (L2 over a textured block): 2.6 luma levels RMS
MASK_TEXTURE = 14.0  # block standard deviation at which the full strength is used
MASK_FLOOR = 0.3  # share of the strength flat blocks get
_DOMAIN = b"doppel-wm-v2"
# Detection subtracts a 5x5 local mean first: the picture's smooth part holds no mark but
# most of the energy the correlation would otherwise pick up (raised JPEG q50 confidence from
# 0.65 to 0.68 and let H.264 CRF 28 decode where it did not).
WHITEN = 5
# DCT frequencies (vertical, horizontal) of the 8x8 pattern: low enough to survive JPEG,
# H.264 and halving, not so low that the block structure shows.
NORMALISE_FLOOR = 0.25  # of the mean window energy, see _correlation_map
_FREQUENCIES = ((1, 2), (2, 1), (2, 2), (1, 3), (3, 1))
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)

# Below this many pixels on the shorter side a picture holds too few blocks per code bit:
# measured, a pristine mark on a 256x256 photograph already reads 6 % of its bits wrong.
MIN_RELIABLE_SIDE = 256
FRAME_TRIES = 16  # single frames a clip decision may also try
FRAME_STRIDE = 10  # every 10th frame, from the first, until FRAME_TRIES are kept

FALSE_POSITIVE_BOUND = len(SCALES) * (  # per picture
    BLOCK * BLOCK * TILE * TILE * 2.0**-(PARITY_BITS + HASH_BITS) + TOP * 2.0**-HASH_BITS)
CLIP_FALSE_POSITIVE_BOUND = (2 + FRAME_TRIES) * FALSE_POSITIVE_BOUND


@dataclass(frozen=True)
class Detection:
    """What the decoder found. `payload` is None when no watermark was found.

    confidence: fraction of blocks whose sign agrees with the decoded code bits (0.5 is
    chance, 1.0 a pristine mark; 0.0 when nothing was found); offset/scale: the hypothesis
    that matched; bit_errors: code bits the decoder corrected (hard reading vs codeword).
    """

    payload: int | None
    confidence: float
    offset: tuple[int, int] = (0, 0)
    scale: int = 1
    bit_errors: int = 0


def _rng() -> np.random.Generator:
    return np.random.default_rng(int.from_bytes(hashlib.sha256(_DOMAIN).digest()[:8], "big"))


def _tables() -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64], npt.NDArray[np.float32],
                       npt.NDArray[np.uint8]]:
    """The 8x8 pattern, the code bit of each tile cell, each cell's chip sign and the code's
    parity matrix (message bits x parity bits)."""
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
    parity = rng.integers(0, 2, size=(MESSAGE_BITS, PARITY_BITS), dtype=np.uint8)
    return pattern.astype(np.float32), bit_of_cell, chips.astype(np.float32), parity


_PATTERN, _BIT_OF_CELL, _CHIPS, _PARITY = _tables()
# cells x code bits: the chip sign where a cell carries that bit, else 0.
_SPREAD = np.zeros((TILE * TILE, CODE_BITS), np.float32)
_SPREAD[np.arange(TILE * TILE), _BIT_OF_CELL] = _CHIPS
_GENERATOR = np.concatenate([np.eye(MESSAGE_BITS, dtype=np.uint8), _PARITY], axis=1)


def _hash(payload_bytes: bytes) -> bytes:
    """The 32 hash bits: a random word's hash matches with p = 2^-32."""
    return hashlib.sha256(_DOMAIN + payload_bytes).digest()[: HASH_BITS // 8]


def _message(payload: int) -> npt.NDArray[np.uint8]:
    """The 96 message bits (0/1): the payload's 64 bits, MSB first, then its hash's 32."""
    payload_bytes = payload.to_bytes(PAYLOAD_BITS // 8, "big")
    return np.unpackbits(np.frombuffer(payload_bytes + _hash(payload_bytes), np.uint8))


def _code_bits(payload: int) -> npt.NDArray[np.float32]:
    """+1/-1 per code bit: message bits then 48 parity bits; > 0 reads as 1."""
    codeword = _message(payload) @ _GENERATOR % 2
    return np.where(codeword == 1, 1.0, -1.0).astype(np.float32)


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
        import cv2  # its saturating uint8 + int16 add is ~2x faster than numpy's three passes

        plane = self._plane(rgb)
        return cv2.add(np.ascontiguousarray(rgb), cv2.merge((plane, plane, plane)),
                       dtype=cv2.CV_8U)

    def mark_luma(self, luma: npt.NDArray[np.uint8], rgb: npt.NDArray[np.uint8]) -> None:
        """The same mark added, in place, to the limited-range luma plane (uint8 HxW) of the
        picture whose RGB is `rgb`: `mark` adds one value to R, G and B, which raises such a
        luma by 219/255 of it and leaves the chroma as it is, so a video frame kept as
        stored is marked without a trip through RGB and back."""
        import cv2

        cv2.add(luma, self._plane(rgb, 219 / 255), dst=luma, dtype=cv2.CV_8U)

    def _plane(self, rgb: npt.NDArray[np.uint8], gain: float = 1.0) -> npt.NDArray[np.int16]:
        """The mark's pixel changes for `rgb`, int16 HxW, times `gain`."""
        import cv2

        height, width = rgb.shape[:2]
        rows, cols = -(-height // BLOCK), -(-width // BLOCK)
        if self._size != (height, width):
            signs = np.tile(self._cell_signs, (-(-rows // TILE), -(-cols // TILE)))[:rows, :cols]
            self._blocks = (signs[:, None, :, None] * _PATTERN[None, :, None, :]).reshape(
                rows * BLOCK, cols * BLOCK).astype(np.float32)
            self._size = (height, width)
        amplitude = (self.strength * gain * _masking(rgb, rows, cols)).astype(np.float32)
        # each block's amplitude over its 8x8 pixels, times the pattern, rounded to int16
        # in one pass (OpenCV rounds half to even, as np.rint)
        spread = cv2.resize(amplitude, (cols * BLOCK, rows * BLOCK),
                            interpolation=cv2.INTER_NEAREST)
        return cv2.multiply(self._blocks, spread, dtype=cv2.CV_16S)[:height, :width]


def _masking(rgb: npt.NDArray[np.uint8], rows: int, cols: int) -> npt.NDArray[np.float32]:
    """Per block: share of the strength, from the texture of every other green pixel."""
    import cv2

    green = rgb[::2, ::2, 1].astype(np.float32)
    # Area averaging over half-resolution 4x4 cells gives each block's mean and mean square;
    # a partial edge block is averaged over the pixels it has.
    size = (cols, rows)
    mean = cv2.resize(green, size, interpolation=cv2.INTER_AREA)
    power = cv2.resize(green * green, size, interpolation=cv2.INTER_AREA)
    texture = np.sqrt(np.maximum(power - mean * mean, 0.0))
    return np.clip(texture / MASK_TEXTURE, MASK_FLOOR, 1.0)


def luma(rgb: npt.NDArray[np.uint8]) -> npt.NDArray[np.float32]:
    return rgb.astype(np.float32) @ _LUMA


def detect_frames(frames: Iterable[npt.NDArray[np.uint8]]) -> Detection:
    """Find the watermark in the frames of one clip (RGB uint8 HxWx3, all one size).

    Three decisions, cheapest first:
    1. the frames' lumas summed, so a mark that stays put adds up while the picture and the
       codec's noise average out;
    2. where the picture moves, H.264's motion compensation drags the mark along with it in
       predicted frames, so each frame holds the mark at its own grid offset and the plain sum
       blurs it. Up to `FRAME_TRIES` frames are searched one by one (each may decode alone) and
       their soft code bits, each read at that frame's own most reliable offset and tile phase,
       are added: the aligned sum, decoded like one picture;
    3. the same frames at scale 2 (a clip that was halved).
    The false-positive bound per clip is therefore (2 + FRAME_TRIES) x FALSE_POSITIVE_BOUND.
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
    if found.payload is not None:
        return found
    aligned = np.zeros(CODE_BITS)
    for picture in kept:
        found, candidates = _search(picture)
        if found is None:
            found = _osd_candidates(candidates)
        if found is not None:
            return found
        aligned += _aligned_share(candidates)
    decoded = _osd_decode(aligned) if len(kept) > 1 else None
    if decoded is not None:
        payload, flips = decoded
        agree = float((np.sign(aligned) == _code_bits(payload)).mean())
        return Detection(payload, agree, (0, 0), 1, flips)
    for picture in kept:
        found = detect(picture, scales=SCALES[1:])
        if found.payload is not None:
            return found
    return Detection(None, 0.0)


def detect(luma_sum: npt.NDArray[np.float32], scales: tuple[int, ...] = SCALES) -> Detection:
    """Find the watermark in a luma picture (float HxW), or a sum of frames' lumas."""
    for scale in scales:
        picture = _upscale(luma_sum, scale)
        if picture.shape[0] < BLOCK * TILE // 2 or picture.shape[1] < BLOCK * TILE // 2:
            continue
        found = _detect_at_scale(picture)
        if found.payload is not None:
            return Detection(found.payload, found.confidence, found.offset, scale,
                             found.bit_errors)
    return Detection(None, 0.0)


def soft_bits(luma_sum: npt.NDArray[np.float32], scale: int = 1) -> npt.NDArray[np.float64]:
    """The 144 soft code bits (payload MSB first, hash, parity; > 0 reads as 1) of the most
    reliable grid offset and tile phase at `scale`: what the decoder sees before error
    correction. For measuring bit accuracy; `detect` is the decision."""
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
    """Normalised correlation of the pattern with the 8x8 window at every pixel; the block
    grid with offset (dy, dx) is then `map[dy::8, dx::8]`. One correlation serves all 64
    offsets. OpenCV's box filters and filter2D: ~6x faster here than torch's pooling and
    convolution (equal to 2e-5), and no torch to import."""
    import cv2

    image = np.require(picture, np.float32, ["C"])
    if WHITEN:
        # The local mean over valid pixels only at the borders (zero padding not counted).
        window = (WHITEN, WHITEN)
        sums = cv2.boxFilter(image, -1, window, normalize=False, borderType=cv2.BORDER_CONSTANT)
        counts = cv2.boxFilter(np.ones_like(image), -1, window, normalize=False,
                               borderType=cv2.BORDER_CONSTANT)
        image = image - sums / counts
    rows, cols = image.shape[0] - BLOCK + 1, image.shape[1] - BLOCK + 1
    correlation = cv2.filter2D(image, -1, _PATTERN, anchor=(0, 0),
                               borderType=cv2.BORDER_CONSTANT)[:rows, :cols]
    # Each window's correlation is divided by its own residual energy (plus a floor tied to
    # the picture's mean): a few high-contrast blocks that stay put — a caption, the visible
    # label, summed over a clip's frames — would otherwise outvote the mark in a small picture
    # (measured: 256-px synthetic clips read a reliable bit wrong and were missed; 720p
    # results unchanged).
    energy = cv2.boxFilter(image * image, -1, (BLOCK, BLOCK), anchor=(0, 0),
                           borderType=cv2.BORDER_CONSTANT)[:rows, :cols]
    return correlation / np.sqrt(energy + NORMALISE_FLOOR * energy.mean())


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
    found, candidates = _search(picture)
    if found is None:
        found = _osd_candidates(candidates)
    return Detection(None, 0.0) if found is None else found


def _osd_candidates(candidates: list[Candidate]) -> Detection | None:
    """OSD-decode the `TOP` most reliable candidates."""
    for _, soft, (dy, dx), phase, correlations in candidates[-TOP:]:
        decoded = _osd_decode(soft)
        if decoded is not None:
            return _describe(correlations[dy::BLOCK, dx::BLOCK], (dy, dx), phase, *decoded)
    return None


def _aligned_share(candidates: list[Candidate]) -> np.ndarray:
    """One frame's contribution to a clip's aligned sum: the soft code bits of its most
    reliable hypothesis, as a unit vector weighted by how far that hypothesis stands out from
    the rest (a z-score). A frame that lost the mark (B-frames at high CRF do) has no
    standout hypothesis and adds little noise."""
    reliabilities = np.array([c[0] for c in candidates])
    spread = max(float(reliabilities.std()), 1e-9)
    weight = max(0.0, (reliabilities[-1] - float(np.median(reliabilities))) / spread)
    best = candidates[-1][1]
    return weight * best / max(float(np.linalg.norm(best)), 1e-9)


Candidate = tuple[float, np.ndarray, tuple[int, int], int, np.ndarray]


def _search(picture: np.ndarray) -> tuple[Detection | None, list[Candidate]]:
    """Hard-decode every grid offset and tile phase; the first whose check matches wins.
    Otherwise the candidates (reliability, soft code bits, offset, phase, correlation map):
    the `TOP` most reliable phases of each offset, most reliable last."""
    candidates: list[Candidate] = []
    correlations = _correlation_map(picture)
    for dy, dx in itertools.product(range(BLOCK), range(BLOCK)):
        folded = _fold(correlations[dy::BLOCK, dx::BLOCK]).ravel()
        soft = folded[_PHASES] @ _SPREAD  # tile phases x code bits
        for phase, payload in _hard_decode(soft):
            found = _describe(correlations[dy::BLOCK, dx::BLOCK], (dy, dx), phase, payload, 0)
            return found, []
        reliability = np.abs(soft).sum(axis=1)
        for phase in np.argsort(reliability)[-TOP:]:
            candidates.append((float(reliability[phase]), soft[phase], (dy, dx), int(phase),
                               correlations))
    candidates.sort(key=lambda c: c[0])
    return None, candidates


def _payload_if_valid(message: np.ndarray) -> int | None:
    """The payload of 96 message bits (0/1) whose hash matches, else None."""
    word = np.packbits(message).tobytes()
    payload = word[: PAYLOAD_BITS // 8]
    return int.from_bytes(payload, "big") if _hash(payload) == word[PAYLOAD_BITS // 8:] else None


def _hard_decode(soft: np.ndarray):
    """(row, payload) for each row of soft code bits that is a codeword with a valid hash."""
    bits = (soft > 0).astype(np.uint8)
    syndromes = (bits[:, :MESSAGE_BITS] @ _PARITY + bits[:, MESSAGE_BITS:]) % 2
    for row in np.flatnonzero(~syndromes.any(axis=1)):
        payload = _payload_if_valid(bits[row, :MESSAGE_BITS])
        if payload is not None:
            yield int(row), payload


def _osd_decode(soft: np.ndarray) -> tuple[int, int] | None:
    """Ordered-statistics decoding, order 2: (payload, corrected bits) or None.

    The code bits are ranked by reliability |soft|; Gaussian elimination over GF(2) finds the
    96 most reliable ones that are linearly independent (the basis) and rewrites the
    generator so those 96 determine the codeword. Their hard decisions, and every variant with
    one basis bit or two of the `OSD_FLIP_SPAN` least reliable basis bits flipped, are
    re-encoded; the codeword agreeing best with the soft bits (largest correlation) is the
    decision, and only its hash is checked (one check per call: the false-positive bound).
    """
    order = np.argsort(-np.abs(soft), kind="stable")
    generator = _GENERATOR[:, order].copy()
    basis: list[int] = []
    row = 0
    for column in range(CODE_BITS):
        pivots = np.flatnonzero(generator[row:, column]) + row
        if len(pivots) == 0:
            continue
        generator[[row, pivots[0]]] = generator[[pivots[0], row]]
        others = np.flatnonzero(generator[:, column])
        others = others[others != row]
        generator[others] ^= generator[row]
        basis.append(column)
        row += 1
        if row == MESSAGE_BITS:
            break
    hard = (soft[order] > 0).astype(np.uint8)
    trials = np.repeat(hard[basis][None, :], len(_OSD_FLIPS), axis=0) ^ _OSD_FLIPS
    codewords = trials.astype(np.int32) @ generator.astype(np.int32) % 2
    scores = (2.0 * codewords - 1.0) @ soft[order]
    best = codewords[int(np.argmax(scores))]
    codeword = np.empty(CODE_BITS, np.uint8)
    codeword[order] = best
    payload = _payload_if_valid(codeword[:MESSAGE_BITS])
    if payload is None:
        return None
    return payload, int((codeword != (soft > 0)).sum())


def _osd_flip_patterns() -> np.ndarray:
    """Rows of basis-bit flips: none, each single bit, each pair among the least reliable."""
    patterns = [np.zeros(MESSAGE_BITS, np.uint8)]
    for bit in range(MESSAGE_BITS):
        pattern = np.zeros(MESSAGE_BITS, np.uint8)
        pattern[bit] = 1
        patterns.append(pattern)
    span = range(MESSAGE_BITS - OSD_FLIP_SPAN, MESSAGE_BITS)
    for first, second in itertools.combinations(span, 2):
        pattern = np.zeros(MESSAGE_BITS, np.uint8)
        pattern[[first, second]] = 1
        patterns.append(pattern)
    return np.array(patterns)


_OSD_FLIPS = _osd_flip_patterns()


def _describe(correlations: np.ndarray, offset: tuple[int, int], phase: int, payload: int,
              flips: int) -> Detection:
    """Confidence: the share of blocks whose correlation sign matches the decoded mark."""
    rows, cols = correlations.shape
    py, px = divmod(phase, TILE)
    cell_signs = np.roll((_SPREAD @ _code_bits(payload)).reshape(TILE, TILE), (py, px), (0, 1))
    expected = np.tile(cell_signs, (-(-rows // TILE), -(-cols // TILE)))[:rows, :cols]
    agree = float((np.sign(correlations) == expected).mean())
    return Detection(payload, agree, offset, 1, flips)
