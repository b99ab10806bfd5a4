"""The world around a synthetic actor: an out-of-focus background, the light on the face, and
the camera's noise and compression, each drawn deterministically from a seed.

Conventions: colours are RGB floats in [0, 1]; images are RGB uint8 HxWx3. Light directions
follow `doppel.synth.raster` (towards the light; x right, y down, z away from the viewer, so a
light in front of the face has a negative z). Backgrounds are drawn on a coarse grid of fixed
size and scaled up, so one scene gives the same picture at every resolution.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass
from typing import Literal, get_args

import cv2
import numpy as np
import numpy.typing as npt
from scipy.special import ndtri

from doppel.synth.raster import Light

BackgroundKind = Literal["solid", "gradient", "textured"]
BACKGROUNDS: tuple[BackgroundKind, ...] = get_args(BackgroundKind)
Colour = tuple[float, float, float]

# Independent random streams per purpose, so that adding a draw to one never shifts another.
_SCENE_STREAM, _BACKGROUND_STREAM, _NOISE_STREAM = 0, 1, 2

# random_scene ranges. Azimuth/elevation keep the light in front and mostly above: with
# |azimuth| <= 55 and elevation <= 50 the light's z is at most -0.37, so the face is lit.
_AZIMUTH = (-55.0, 55.0)
_ELEVATION = (-10.0, 50.0)
_AMBIENT = (0.25, 0.5)
_SPECULAR = (0.06, 0.25)
_SHININESS = (12.0, 40.0)
_NOISE = (0.0, 4.0)
_DEGRADATION = (0.0, 0.6)
_NEUTRAL_WHITE = np.array((1.0, 1.0, 1.0))
_WARM_WHITE = np.array((1.0, 0.86, 0.70))  # tungsten-ish, as a multiplier with max 1
_COOL_WHITE = np.array((0.84, 0.92, 1.0))  # overcast daylight

# Muted, indoor-looking palettes: walls, curtains and shelves rather than saturated props.
_SATURATION = (0.05, 0.35)
_VALUE = (0.22, 0.8)
_HUE_SPREAD = 0.08  # turns; colours of one palette stay in a family
_VALUE_STEP = (0.1, 0.25)  # between neighbouring palette colours, so gradients show

# Backgrounds are drawn on a grid whose longer side has this many cells, then scaled up:
# cheap, resolution-independent, and blurred content survives the scaling unchanged.
_GRID = 96
_SHADE = 0.12  # relative brightness wander laid over every texture

# Camera noise: `Scene.noise` is each channel's standard deviation at mid grey. The variance
# is read noise (flat) plus shot noise (proportional to the signal), split 30/70 there.
_READ_SHARE = 0.3
_MID_GREY = 128.0
_CHROMA_SHARE = 0.15  # share of each channel's noise variance at mid grey that is chroma
_STRIP_ROWS = 32  # blur and noise work a strip of rows at a time (see expose_frame)
# Standard normal values at the centres of 256 equal-probability bins: one random byte per
# sample through this table is several times faster than drawing normals, and rounding to
# 8-bit levels hides the quantisation. Normalised so the table's own variance is 1.
_NORMAL_TABLE = ndtri((np.arange(256) + 0.5) / 256.0)
_NORMAL_TABLE = (_NORMAL_TABLE / _NORMAL_TABLE.std()).astype(np.float32)

# Compression: JPEG quality falls linearly with degradation; lens blur grows with it.
_QUALITY_AT_ZERO, _QUALITY_DROP = 95.0, 60.0
_BLUR_SIGMA = 0.9  # pixels at degradation 1


@dataclass(frozen=True)
class Scene:
    """Everything about a clip that is not the actor.

    background: "solid" (the first colour), "gradient" (a smooth blend of the colours in order
        along a direction drawn from the seed) or "textured" (an out-of-focus surface in the
        colours: mottled wall, curtain folds or a bookshelf, chosen by the seed).
    colours: 1-3 RGB colours in [0, 1].
    light: the light on the actor, for `doppel.synth.raster.Renderer.draw`.
    noise: camera noise, each channel's standard deviation in 8-bit levels at mid grey (0: none);
        brighter pixels are noisier (shot noise), darker ones keep a floor (read noise).
    degradation: 0-1, strength of the compression and softness (0: none).
    seed: non-negative; background texture and per-frame noise are drawn from it.
    """

    background: BackgroundKind
    colours: tuple[Colour, ...]
    light: Light
    noise: float
    degradation: float
    seed: int

    def __post_init__(self) -> None:
        if self.background not in BACKGROUNDS:
            raise ValueError(f"background must be one of {BACKGROUNDS}, got {self.background!r}")
        colours = np.asarray(self.colours, dtype=np.float64)
        if colours.ndim != 2 or colours.shape[1] != 3 or not 1 <= colours.shape[0] <= 3:
            raise ValueError(f"colours must be 1-3 RGB triples, got {self.colours}")
        if not np.all((colours >= 0.0) & (colours <= 1.0)):
            raise ValueError(f"colours must lie in [0, 1], got {self.colours}")
        if not self.noise >= 0.0:
            raise ValueError(f"noise must be >= 0, got {self.noise}")
        if not 0.0 <= self.degradation <= 1.0:
            raise ValueError(f"degradation must lie in [0, 1], got {self.degradation}")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
        object.__setattr__(self, "colours", tuple(tuple(float(c) for c in row) for row in colours))


def light_from_angles(azimuth_deg: float, elevation_deg: float,
                      colour: Colour = (1.0, 1.0, 1.0), ambient: float = 0.35, *,
                      specular: float = Light.specular, shininess: float = Light.shininess
                      ) -> Light:
    """A light placed by angles as seen from the camera.

    azimuth 0, elevation 0: the light sits at the camera and faces the actor head on.
    azimuth > 0 moves it to the viewer's right (image +x); elevation > 0 raises it (image -y).
    Both within (-90, 90) keep it in front of the face. The direction is unit length.
    """
    azimuth, elevation = math.radians(azimuth_deg), math.radians(elevation_deg)
    direction = (math.sin(azimuth) * math.cos(elevation), -math.sin(elevation),
                 -math.cos(azimuth) * math.cos(elevation))
    return Light(direction=direction, colour=tuple(float(c) for c in colour), ambient=ambient,
                 specular=specular, shininess=shininess)


def random_scene(seed: int) -> Scene:
    """A plausible indoor scene for `seed` (non-negative): a front/upper-front light of warm,
    neutral or cool white, a muted background of a random kind, modest noise and compression."""
    rng = np.random.default_rng([seed, _SCENE_STREAM])
    background: BackgroundKind = BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))]
    count = 1 if background == "solid" else int(rng.integers(2, 4))
    light = light_from_angles(rng.uniform(*_AZIMUTH), rng.uniform(*_ELEVATION),
                              draw_light_colour(rng), rng.uniform(*_AMBIENT),
                              specular=rng.uniform(*_SPECULAR),
                              shininess=rng.uniform(*_SHININESS))
    return Scene(background=background, colours=draw_palette(rng, count), light=light,
                 noise=float(rng.uniform(*_NOISE)), degradation=float(rng.uniform(*_DEGRADATION)),
                 seed=seed)


def draw_light_colour(rng: np.random.Generator) -> Colour:
    """A white between cool daylight and warm tungsten, brightest channel 1."""
    temperature = rng.uniform(-1.0, 1.0)  # < 0 cool, > 0 warm
    tint = _WARM_WHITE if temperature > 0 else _COOL_WHITE
    colour = _NEUTRAL_WHITE + abs(temperature) * (tint - _NEUTRAL_WHITE)
    return tuple(float(c) for c in colour / colour.max())


def draw_palette(rng: np.random.Generator, count: int) -> tuple[Colour, ...]:
    """`count` muted colours of one hue family, ordered dark to light so that a gradient
    through them always brightens steadily."""
    hue = rng.uniform()
    value = rng.uniform(_VALUE[0], _VALUE[1] - (count - 1) * _VALUE_STEP[0])
    colours = []
    for _ in range(count):
        shifted = (hue + rng.uniform(-_HUE_SPREAD, _HUE_SPREAD)) % 1.0
        colours.append(colorsys.hsv_to_rgb(shifted, rng.uniform(*_SATURATION), min(value, 0.88)))
        value += rng.uniform(*_VALUE_STEP)
    return tuple(sorted(colours, key=measure_luma))


def measure_luma(colour: Colour) -> float:
    """Rec. 601 luma of an RGB colour (the weights JPEG uses)."""
    return 0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2]


def render_background(scene: Scene, width: int, height: int) -> npt.NDArray[np.uint8]:
    """The scene's background, RGB uint8 HxWx3; the same for the same scene every call.

    Compute it once per clip and reuse it (it takes a few milliseconds at 512x512).
    """
    if width < 1 or height < 1:
        raise ValueError(f"background size must be positive, got {width}x{height}")
    palette = np.asarray(scene.colours, dtype=np.float32)
    if scene.background == "solid":
        return np.full((height, width, 3), convert_to_uint8(palette[0]), np.uint8)
    if scene.background == "gradient":
        return render_gradient(palette, width, height, scene.seed)
    return render_texture(palette, width, height, scene.seed)


def convert_to_uint8(rgb: npt.NDArray[np.float32]) -> npt.NDArray[np.uint8]:
    """Colours in [0, 1] (float32, any shape) as 8-bit levels, rounded and clipped."""
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def render_gradient(palette: npt.NDArray[np.float32], width: int, height: int,
                    seed: int) -> npt.NDArray[np.uint8]:
    """A smooth blend through the palette (float32 Kx3) along a direction drawn from `seed`,
    from one corner of the image to the opposite one; RGB uint8 HxWx3."""
    rng = np.random.default_rng([seed, _BACKGROUND_STREAM])
    angle = rng.uniform(0.0, 2.0 * math.pi)
    dx, dy = math.cos(angle), math.sin(angle)
    # Along the axis the picture is a 1-D profile; an affine warp of it fills the image far
    # faster than evaluating the curve per pixel. One profile sample per pixel of extent.
    extent = abs(dx) * (width - 1) + abs(dy) * (height - 1)
    samples = max(2, math.ceil(extent) + 1)
    position = np.linspace(0.0, 1.0, samples, dtype=np.float32)
    profile = convert_to_uint8(blend_palette(palette, position))
    origin = min(0.0, dx * (width - 1)) + min(0.0, dy * (height - 1))
    scale = (samples - 1) / max(extent, 1e-6)
    inverse = np.array([[dx * scale, dy * scale, -origin * scale], [0.0, 0.0, 0.0]])
    return cv2.warpAffine(np.repeat(profile[None], 2, axis=0), inverse, (width, height),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def blend_palette(palette: npt.NDArray[np.float32],
                  position: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Colours along a smooth curve through the palette (float32 Kx3, K = 1-3) at `position`
    (float32, any shape, in [0, 1]); float32 of shape position.shape + (3,).

    Three colours make a quadratic Bezier curve: smooth everywhere (no kink at the middle
    colour, unlike piecewise-linear stops), and its luma is monotone when the middle colour's
    luma lies between the others'.
    """
    t = position[..., None]
    if len(palette) == 1:
        return np.broadcast_to(palette[0], t.shape[:-1] + (3,)).astype(np.float32)
    if len(palette) == 2:
        return palette[0] + t * (palette[1] - palette[0])
    return ((1 - t) ** 2) * palette[0] + (2 * t * (1 - t)) * palette[1] + (t ** 2) * palette[2]


def render_texture(palette: npt.NDArray[np.float32], width: int, height: int,
                   seed: int) -> npt.NDArray[np.uint8]:
    """An out-of-focus surface in the palette's colours (float32 Kx3); RGB uint8 HxWx3."""
    rng = np.random.default_rng([seed, _BACKGROUND_STREAM])
    scale = _GRID / max(width, height)
    grid = (max(8, round(height * scale)), max(8, round(width * scale)))
    style = int(rng.integers(3))
    if style == 0:
        rgb = draw_mottle(palette, grid, rng)
    elif style == 1:
        rgb = draw_folds(palette, grid, rng)
    else:
        rgb = draw_shelves(palette, grid, rng)
    rgb *= 1.0 + _SHADE * draw_smooth_noise(grid, _GRID / 3.0, rng)[..., None]
    # Scaling 8-bit levels up costs a quarter of scaling floats, and the grid is smooth enough
    # that interpolating between rounded levels adds no visible banding.
    return cv2.resize(convert_to_uint8(rgb), (width, height), interpolation=cv2.INTER_CUBIC)


def draw_smooth_noise(grid: tuple[int, int], sigma: float,
                      rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """Gaussian-filtered white noise on the grid, float32 HxW, zero mean and unit std."""
    noise = rng.standard_normal(grid).astype(np.float32)
    smooth = cv2.GaussianBlur(noise, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    smooth -= smooth.mean()
    return smooth / max(float(smooth.std()), 1e-6)


def draw_mottle(palette: npt.NDArray[np.float32], grid: tuple[int, int],
                rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """A plastered or painted wall: noise at three scales, coarse ones strongest; grid RGB."""
    field = sum(weight * draw_smooth_noise(grid, _GRID / divisor, rng)
                for weight, divisor in ((1.0, 6.0), (0.45, 16.0), (0.2, 36.0)))
    return blend_palette(palette, squash(field))


def draw_folds(palette: npt.NDArray[np.float32], grid: tuple[int, int],
               rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """A hanging curtain: soft vertical folds that wander a little down the drop; grid RGB."""
    rows, columns = grid
    folds = rng.standard_normal(columns).astype(np.float32)
    folds = cv2.GaussianBlur(folds[None, :], (0, 0), _GRID / 40.0,
                             borderType=cv2.BORDER_REFLECT)[0]
    folds /= max(float(folds.std()), 1e-6)
    drift = draw_smooth_noise(grid, _GRID / 8.0, rng)
    return blend_palette(palette, squash(folds[None, :] + 0.6 * drift))


def squash(field: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Palette positions in (0, 1) from a zero-mean field, float32 of the same shape.

    A soft limit rather than clipping: clipped peaks would show as flat patches with edges.
    """
    return (0.5 + 0.5 * np.tanh(0.6 * field)).astype(np.float32)


def draw_shelves(palette: npt.NDArray[np.float32], grid: tuple[int, int],
                 rng: np.random.Generator) -> npt.NDArray[np.float32]:
    """A bookshelf far behind the actor: rows of spines between boards, heavily defocused;
    grid RGB."""
    rows, columns = grid
    board = palette[0] * 0.7
    rgb = np.empty((rows, columns, 3), np.float32)
    rgb[:] = board
    shelf_count = int(rng.integers(2, 5))
    edges = np.linspace(0, rows, shelf_count + 1).round().astype(int)
    for top, bottom in zip(edges[:-1], edges[1:]):
        board_height = max(1, (bottom - top) // 8)
        x = int(rng.integers(0, 4))
        while x < columns:
            spine = int(rng.integers(2, 6))
            height = int((bottom - top - board_height) * rng.uniform(0.65, 1.0))
            colour = palette[rng.integers(len(palette))] * rng.uniform(0.75, 1.15)
            rgb[bottom - board_height - height:bottom - board_height, x:x + spine] = colour
            x += spine + int(rng.integers(0, 2))
    return cv2.GaussianBlur(np.clip(rgb, 0.0, 1.0), (0, 0), _GRID / 45.0,
                            borderType=cv2.BORDER_REFLECT)


def degrade_frame(rgb: npt.NDArray[np.uint8], scene: Scene,
                  frame_index: int) -> npt.NDArray[np.uint8]:
    """A finished frame as the scene's camera would record it: lens softness, sensor noise
    (fresh each frame, the same for the same scene and frame_index) and JPEG compression
    with 4:2:0 chroma. RGB uint8 HxWx3 in and out; with noise and degradation both 0 the
    result equals the input (a copy).

    About 1-2 ms at 256x256 and 3-7 ms at 512x512 on one core.
    """
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"frame must be RGB uint8 HxWx3, got {rgb.dtype} {rgb.shape}")
    if frame_index < 0:
        raise ValueError(f"frame_index must be non-negative, got {frame_index}")
    if scene.noise == 0 and scene.degradation == 0:
        return rgb.copy()
    frame = expose_frame(np.ascontiguousarray(rgb), _BLUR_SIGMA * scene.degradation,
                         scene.noise, (scene.seed, frame_index))
    if scene.degradation > 0:
        frame = compress_jpeg(frame, measure_jpeg_quality(scene.degradation))
    return frame


def expose_frame(rgb: npt.NDArray[np.uint8], blur_sigma: float, noise: float,
                 key: tuple[int, int]) -> npt.NDArray[np.uint8]:
    """The lens and sensor: a 3x3 Gaussian blur of `blur_sigma` pixels (0: none), then noise
    whose std is `noise` 8-bit levels in each channel at mid grey (0: none), reproducible for
    `key` (seed, frame index). RGB uint8 HxWx3 (C-contiguous) in and out.
    """
    height = rgb.shape[0]
    generator = np.random.default_rng([key[0], _NOISE_STREAM, key[1]]).bit_generator
    luma_table = build_noise_table(noise) * np.float32(math.sqrt(1.0 - _CHROMA_SHARE))
    chroma_table = _NORMAL_TABLE * np.float32(noise * math.sqrt(_CHROMA_SHARE))
    exposed = np.empty_like(rgb)
    # Strips keep every temporary small enough for malloc to recycle; whole-frame
    # temporaries came back as fresh pages each call, and faulting them in cost 3x the work.
    for top in range(0, height, _STRIP_ROWS):
        bottom = min(top + _STRIP_ROWS, height)
        strip = rgb[top:bottom]
        if blur_sigma > 0:
            # One row of context either side makes the strip's blur equal the whole frame's.
            above, below = max(top - 1, 0), min(bottom + 1, height)
            strip = cv2.GaussianBlur(rgb[above:below], (3, 3), blur_sigma)[
                top - above:bottom - above]
        if noise > 0:
            add_noise_to_strip(strip, exposed[top:bottom], generator, luma_table, chroma_table)
        else:
            exposed[top:bottom] = strip
    return exposed


def add_noise_to_strip(strip: npt.NDArray[np.uint8], noisy: npt.NDArray[np.uint8],
                       generator: np.random.BitGenerator, luma_table: npt.NDArray[np.float32],
                       chroma_table: npt.NDArray[np.float32]) -> None:
    """Write `strip` (RGB uint8 hxWx3) plus sensor noise into `noisy` (the same shape).

    Most of the variance is shared by the three channels (luma) and follows the signal, with
    the std `luma_table` gives for each luma value: read noise plus shot noise. The rest is
    independent per channel (chroma), signal-independent and at half resolution, as
    demosaicing leaves it (which also halves its cost); `chroma_table` maps bytes to it.
    """
    height, width = strip.shape[:2]
    chroma_shape = ((height + 1) // 2, (width + 1) // 2, 3)
    luma_count, chroma_count = height * width, math.prod(chroma_shape)
    # Raw 64-bit draws cut into bytes and mapped through a normal table: ten times faster
    # than Generator.bytes or drawing normals.
    raw = generator.random_raw(math.ceil((luma_count + chroma_count) / 8)).view(np.uint8)
    luma = cv2.multiply(cv2.LUT(raw[:luma_count].reshape(height, width), _NORMAL_TABLE),
                        cv2.LUT(cv2.cvtColor(strip, cv2.COLOR_RGB2GRAY), luma_table))
    chroma = cv2.LUT(raw[luma_count:luma_count + chroma_count].reshape(chroma_shape),
                     chroma_table)
    noise = cv2.merge((luma,) * 3)
    cv2.add(noise, cv2.resize(chroma, (width, height), interpolation=cv2.INTER_NEAREST),
            dst=noise)
    # Mixed-type add with an 8-bit result rounds to nearest and saturates at 0 and 255.
    cv2.add(strip, noise, dst=noisy, dtype=cv2.CV_8U)


def build_noise_table(level: float) -> npt.NDArray[np.float32]:
    """Noise std for each 8-bit luma value, float32 (256,): read noise plus shot noise,
    equal to `level` at mid grey."""
    signal = np.arange(256, dtype=np.float64) / _MID_GREY
    return (level * np.sqrt(_READ_SHARE + (1.0 - _READ_SHARE) * signal)).astype(np.float32)


def measure_jpeg_quality(degradation: float) -> int:
    """JPEG quality for a degradation strength: 95 at 0 (near-transparent), 35 at 1."""
    return int(round(_QUALITY_AT_ZERO - _QUALITY_DROP * degradation))


def compress_jpeg(rgb: npt.NDArray[np.uint8], quality: int) -> npt.NDArray[np.uint8]:
    """A JPEG round trip at `quality` with 4:2:0 chroma; RGB uint8 HxWx3 in and out."""
    # OpenCV's codec expects BGR; encoding RGB as is would compute luma with R and B swapped.
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".jpg", bgr, [
        cv2.IMWRITE_JPEG_QUALITY, quality,
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420])
    if not ok:
        raise RuntimeError("OpenCV failed to encode a JPEG")
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB, dst=decoded)  # in place: no fresh pages
