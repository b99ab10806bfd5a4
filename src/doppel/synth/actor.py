"""Synthetic actors: random identities (face shape, colours) and their 3D heads, built per frame
from an expression (jaw, mouth, smile, blinks, brows) on top of the packaged base face.

`HeadBuilder(actor)` does all the per-actor work once (identity shape, eyeballs, skull, ears,
neck, shoulders, hair, beard, glasses, expression weight fields); `.build(expression)` then costs
about a millisecond.
`build_head(actor, expression)` does the same through a small cache of builders.

Frame and units as `face_model`: centimetres, x the subject's left, y up, z towards the camera.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt
from scipy import sparse

from doppel.synth.face_model import FaceModel, load_face_model, vertex_normals
from doppel.synth.skin import (PLAIN_UV, default_brow_colour, default_lip_colour, face_uv,
                               make_skin_texture)

# Part ids (Mesh.labels / rendered part maps); 0 is the background.
SKIN = 1  # the face mesh (brows, lashes and lips' colour are its texture)
LIPS = 2
EYE_WHITE = 3
IRIS = 4  # iris and pupil
MOUTH = 5  # mouth cavity and teeth
BROW = 6  # reserved: brows are drawn in the SKIN texture
HEAD = 7  # skull, scalp, ears
NECK = 8
CLOTHES = 9
HAIR = 10  # hair, beard and moustache (stubble is drawn in the SKIN vertex colours)
GLASSES = 11
# Facial hair and glasses lie on the face but hide it: they are not face parts (see render).
FACE_PARTS = (SKIN, LIPS, EYE_WHITE, IRIS, MOUTH, BROW)

HairStyle = Literal["bald", "buzz", "short", "medium", "long", "bun"]
BeardStyle = Literal["none", "stubble", "moustache", "full"]
GlassesStyle = Literal["none", "round", "rectangular"]
HAIR_STYLES: tuple[str, ...] = get_args(HairStyle)
BEARD_STYLES: tuple[str, ...] = get_args(BeardStyle)
GLASSES_STYLES: tuple[str, ...] = get_args(GlassesStyle)

SHAPE_PARAMETERS = (
    "face_width", "face_length", "jaw_width", "chin_length", "cheek_fullness", "nose_length",
    "nose_width", "nose_projection", "lip_fullness", "mouth_width", "eye_size", "eye_spacing",
    "eye_tilt", "brow_height", "brow_thickness", "forehead_height", "head_depth",
    # Added later, drawn from a stream of their own (see random_actor).
    "brow_ridge", "eye_height", "cheekbones", "chin_width", "nose_bridge", "upper_lip",
)
_FIRST_SHAPE_COUNT = 17
EXPRESSIONS = ("jaw_open", "mouth_wide", "mouth_round", "smile", "blink_left", "blink_right",
               "brow_raise")
FACE_VERTICES = 478
MAX_JAW_ANGLE = np.deg2rad(18.0)
_SHAPE_SPREAD = 1.5  # standard deviation of the shape draws (1.0 left dlib's actors too alike)
_SHAPE_LIMIT = 3.0

# Skin tones (RGB albedo, as the renderer multiplies them: it applies no gamma, so these are
# close to how a lit face should look) from very light to very dark.
_SKIN_TONES = np.array([(1.0, 0.88, 0.80), (0.98, 0.82, 0.70), (0.92, 0.72, 0.58),
                        (0.80, 0.59, 0.43), (0.64, 0.44, 0.30), (0.46, 0.30, 0.20),
                        (0.31, 0.20, 0.13)])
_HAIR_COLOURS = np.array([(0.05, 0.04, 0.035), (0.16, 0.10, 0.06), (0.32, 0.21, 0.12),
                          (0.62, 0.50, 0.30), (0.52, 0.52, 0.50), (0.42, 0.18, 0.08)])
_IRIS_COLOURS = np.array([(0.30, 0.17, 0.07), (0.14, 0.08, 0.04), (0.22, 0.12, 0.05),
                          (0.33, 0.48, 0.66), (0.45, 0.55, 0.62), (0.30, 0.42, 0.22),
                          (0.45, 0.34, 0.14)])
_TEETH = (0.92, 0.89, 0.80)
_CAVITY = (0.22, 0.04, 0.04)
_TONGUE = (0.80, 0.38, 0.37)
_PUPIL = (0.02, 0.02, 0.02)
_EYE_WHITE = (0.90, 0.88, 0.84)
_GLASSES_FRAME = (0.08, 0.08, 0.09)
# Where the head's rigid parts sit, shared with `hair` (hair, curtains and glasses' arms must
# meet them): the skull's vertical axis depth, the ears' centre height and how far in front of
# the skull's axis they sit, and the shoulders' ellipsoid (centre relative to the skull's axis
# at height 0, radii), all in cm.
SKULL_AXIS_Z = -7.6
_CROWN_POWER = 2.6
EAR_HEIGHT = -1.6
EAR_FORWARD = 1.3
SHOULDER_OFFSET = np.array([0.0, -22.0, 0.5])
SHOULDER_RADII = np.array([19.0, 6.5, 9.0])
# random_actor's draws: hair style, beard and glasses odds (in HAIR_STYLES' ... order).
_HAIR_STYLE_ODDS = (0.10, 0.16, 0.22, 0.20, 0.18, 0.14)
_BEARD_ODDS = (0.55, 0.15, 0.10, 0.20)
_GLASSES_ODDS = (0.70, 0.15, 0.15)

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Actor:
    """A person who does not exist. shape: SHAPE_PARAMETERS -> value, ~N(0, 1) (0 = base face);
    colours are RGB in [0, 1]; lips and brows None take a colour from skin (and hair).
    freckles: 0 (none) to 1 (dense). hair is also the beard's colour."""

    id: str
    seed: int
    shape: dict[str, float]
    skin: tuple[float, float, float]
    hair: tuple[float, float, float] = (0.1, 0.07, 0.05)
    iris: tuple[float, float, float] = (0.3, 0.17, 0.07)
    clothes: tuple[float, float, float] = (0.2, 0.3, 0.5)
    lips: tuple[float, float, float] | None = None
    brows: tuple[float, float, float] | None = None
    freckles: float = 0.0
    hair_style: HairStyle = "short"
    beard: BeardStyle = "none"
    glasses: GlassesStyle = "none"


@dataclass(frozen=True, eq=False)
class HeadMesh:
    """One frame's head, in the face model's frame (cm).

    vertices: float32 (V, 3); the first 478 are the face-mesh landmarks in mediapipe order.
    normals: float32 (V, 3), unit, outward. colours: float32 (V, 3) RGB in [0, 1].
    triangles: int32 (T, 3). labels: uint8 (V,), part ids. specular: float32 (V,).
    uv: float32 (V, 2) into texture (see `skin.face_uv`): the face's vertices unrolled, every
    other part on its white patch (their colour is their vertex colour). texture: RGB uint8
    HxWx3, the face's albedo; the same array every frame. colours multiply it.
    """

    vertices: FloatArray
    normals: FloatArray
    colours: FloatArray
    triangles: npt.NDArray[np.int32]
    labels: npt.NDArray[np.uint8]
    specular: FloatArray
    uv: FloatArray
    texture: npt.NDArray[np.uint8]


def random_actor(seed: int) -> Actor:
    """A deterministic random actor: shape ~N(0, 1) clipped to +-2.5, skin from very light to
    very dark; hair style (bald ~10 %), beard (none ~55 %) and glasses (none ~70 %)."""
    rng = np.random.default_rng([seed, 0xAC70])
    # The later shape parameters come from their own stream, so the first ones, and every
    # colour drawn after them, stayed as they were.
    later = np.random.default_rng([seed, 0x5A9E]).normal(
        size=len(SHAPE_PARAMETERS) - _FIRST_SHAPE_COUNT)
    values = np.clip(_SHAPE_SPREAD * np.concatenate([rng.normal(size=_FIRST_SHAPE_COUNT), later]),
                     -_SHAPE_LIMIT, _SHAPE_LIMIT)
    shape = {name: float(v) for name, v in zip(SHAPE_PARAMETERS, values, strict=True)}
    tone = rng.uniform(0, len(_SKIN_TONES) - 1)
    skin = _interpolate_palette(_SKIN_TONES, tone) * rng.uniform(0.95, 1.05, 3)
    hair = _colour(_HAIR_COLOURS[rng.integers(len(_HAIR_COLOURS))] * rng.uniform(0.85, 1.15))
    iris = _colour(_IRIS_COLOURS[rng.integers(len(_IRIS_COLOURS))] * rng.uniform(0.8, 1.2))
    clothes = _colour(rng.uniform(0.08, 0.8, 3))
    # Freckles are commonest on light skin; most people have none.
    lightness = 1 - tone / (len(_SKIN_TONES) - 1)
    freckled = rng.uniform() < 0.1 + 0.3 * lightness
    freckles = float(rng.uniform(0.1, 1.0) * lightness) if freckled else 0.0
    lips = np.array(default_lip_colour(_colour(skin))) * rng.uniform(0.88, 1.1, 3)
    # Never lighter than the default (under half the skin's tone): dlib's HOG detector, and
    # people, find a face by its brows; pale brows on light skin lost actor 1001 to HOG.
    brows = np.array(default_brow_colour(hair, _colour(skin))) * rng.uniform(0.6, 1.0)
    # A stream of its own: adding these left every earlier actor's face and colours as they were.
    looks = np.random.default_rng([seed, 0x4A12])
    return Actor(id=f"actor-{seed}", seed=seed, shape=shape, skin=_colour(skin), hair=hair,
                 iris=iris, clothes=clothes, lips=_colour(lips), brows=_colour(brows),
                 freckles=freckles,
                 hair_style=HAIR_STYLES[looks.choice(len(HAIR_STYLES), p=_HAIR_STYLE_ODDS)],
                 beard=BEARD_STYLES[looks.choice(len(BEARD_STYLES), p=_BEARD_ODDS)],
                 glasses=GLASSES_STYLES[looks.choice(len(GLASSES_STYLES), p=_GLASSES_ODDS)])


def build_head(actor: Actor, expression: Mapping[str, float]) -> HeadMesh:
    """`actor`'s head making `expression` (EXPRESSIONS -> [0, 1], missing = 0), through a cache
    of the last few actors' builders; use `HeadBuilder` directly in a frame loop."""
    return _cached_builder(_actor_key(actor), actor).build(expression)


class HeadBuilder:
    """Builds one actor's head per frame; everything not driven by the expression is computed
    here once (about 20 ms, up to ~150 ms with hair).

    Vertex order: the 478 face landmarks, the scalp, the mouth cavity, the lower teeth and
    tongue, the eyeballs, the static parts (upper teeth, ears, neck, shoulders, hair,
    glasses), the beard
    (rebuilt each frame: it follows the jaw), then untextured copies of the face oval."""

    def __init__(self, actor: Actor) -> None:
        # hair builds on this module's parts and constants, so it is imported here, not above.
        from doppel.synth.hair import beard_shading, make_beard, make_glasses, make_hair

        model = load_face_model()
        shape = np.array([actor.shape.get(name, 0.0) for name in SHAPE_PARAMETERS])
        face = load_shape_basis().base + np.tensordot(shape, load_shape_basis().fields, axes=1)
        eyes = [_fit_eyeball(face, model.regions[f"{side}_eye"], model.regions[f"{side}_iris"])
                for side in ("right", "left")]
        for eye in eyes:
            face[eye.iris_indices] = eye.iris_landmarks
        self.face = face.astype(np.float32)
        self.expression_fields = _make_expression_fields(model, face)
        self.jaw_weights = load_jaw_weights()
        self.jaw_pivot = model.pivot.astype(np.float64)
        skull = _make_skull(model, face, shape[SHAPE_PARAMETERS.index("head_depth")])
        self.skull = skull
        hair = make_hair(skull, face, actor.hair_style, actor.hair, actor.seed)
        glasses = make_glasses(skull, face, actor.glasses, _GLASSES_FRAME, actor.seed)
        self.beard = make_beard(face, model.regions, actor.beard, actor.hair, actor.seed,
                                skin=actor.skin)
        self.inner_lips = model.regions["lips_inner"]
        teeth = _make_teeth(face, model)
        # The tongue lies behind the lower teeth and drops with them as the jaw opens.
        self.lower_teeth = _concatenate([teeth[1], _make_tongue(face, model)])
        # The eyeballs turn with the gaze each frame, about their own centres.
        self.eyes = eyes
        self.eyeballs = [_make_eyeball_mesh(eye, actor.iris) for eye in eyes]
        eyeballs = _concatenate(self.eyeballs)
        static = _concatenate([teeth[0], *_make_ears(skull, actor.skin),
                               _make_neck(skull, actor.skin),
                               _make_shoulders(skull, actor.clothes),
                               *[part for part in (hair, glasses) if part is not None]])
        self.static = static
        beard = self.beard.build(face) if self.beard is not None else _empty_part()
        self.cavity_triangles = _make_cavity_triangles(len(self.inner_lips))
        head_count = FACE_VERTICES + len(skull.vertices)
        cavity_count = 3 * len(self.inner_lips) + 1
        offsets = np.cumsum([head_count, cavity_count, len(self.lower_teeth.vertices),
                             len(eyeballs.vertices), len(static.vertices), len(beard.vertices)])
        self.triangles = np.concatenate([
            model.triangles, skull.triangles, self.cavity_triangles + offsets[0],
            self.lower_teeth.triangles + offsets[1], eyeballs.triangles + offsets[2],
            static.triangles + offsets[3], beard.triangles + offsets[4]]).astype(np.int32)
        self.head_triangles = np.concatenate([model.triangles, skull.triangles])
        # The scalp meets the face on copies of the oval's vertices (appended last): the same
        # places and normals, but untextured, so no scalp triangle stretches the face texture.
        self.oval = model.regions["face_oval"]
        copies = np.arange(FACE_VERTICES)
        copies[self.oval] = offsets[5] + np.arange(len(self.oval))
        on_face = skull.triangles < FACE_VERTICES
        self.triangles[len(model.triangles):len(self.head_triangles)] = np.where(
            on_face, copies[np.where(on_face, skull.triangles, 0)], skull.triangles)
        labels_face, specular_face = _label_face(model)
        self.colours = np.concatenate([
            _shade_stubble(beard_shading(face, model.regions, actor.beard), actor),
            _paint_skull(skull, actor), np.tile(_CAVITY, (cavity_count, 1)),
            self.lower_teeth.colours, eyeballs.colours, static.colours, beard.colours,
            np.tile(actor.skin, (len(self.oval), 1))]
        ).astype(np.float32)
        self.labels = np.concatenate([
            labels_face, np.full(len(skull.vertices), HEAD), np.full(cavity_count, MOUTH),
            self.lower_teeth.labels, eyeballs.labels, static.labels, beard.labels,
            labels_face[self.oval]]
        ).astype(np.uint8)
        self.specular = np.concatenate([
            specular_face, np.full(len(skull.vertices), 0.15), np.zeros(cavity_count),
            self.lower_teeth.specular, eyeballs.specular, static.specular, beard.specular,
            specular_face[self.oval]]
        ).astype(np.float32)
        self.uv = np.tile(np.float32(PLAIN_UV), (len(self.colours), 1))
        self.uv[:FACE_VERTICES] = face_uv()
        self.texture = make_skin_texture(actor)
        self.cavity_normals = np.tile(np.float32([0, 0, 1]), (cavity_count, 1))

    def build(self, expression: Mapping[str, float], gaze: tuple[float, float] = (0.0, 0.0)
              ) -> HeadMesh:
        """The head making `expression` (EXPRESSIONS -> [0, 1]; missing keys are 0), its eyes
        turned by `gaze` (degrees x, y: > 0 towards the actor's left / up)."""
        weights = np.array([float(np.clip(expression.get(name, 0.0), 0.0, 1.0))
                            for name in EXPRESSIONS[1:]])
        angle = MAX_JAW_ANGLE * float(np.clip(expression.get("jaw_open", 0.0), 0.0, 1.0))
        face = self.face + np.tensordot(weights, self.expression_fields, axes=1)
        face = rotate_about_x(face, self.jaw_pivot, angle * self.jaw_weights)
        skull = rotate_about_x(self.skull.vertices, self.jaw_pivot, angle * self.skull.jaw_weights)
        head = np.concatenate([face, skull])
        head_normals = vertex_normals(head, self.head_triangles)
        cavity = _make_cavity(face[self.inner_lips])
        teeth = rotate_about_x(self.lower_teeth.vertices, self.jaw_pivot, angle)
        teeth_normals = rotate_about_x(self.lower_teeth.normals, np.zeros(3), angle)
        beard = (self.beard.build(face, head_normals[:FACE_VERTICES]) if self.beard is not None
                 else _empty_part())
        turn = _eye_rotation(*gaze)
        eyeballs = [(part.vertices - eye.centre) @ turn.T + eye.centre
                    for eye, part in zip(self.eyes, self.eyeballs, strict=True)]
        eye_normals = [part.normals @ turn.T for part in self.eyeballs]
        for eye in self.eyes:
            face[eye.iris_indices] = (eye.iris_landmarks - eye.centre) @ turn.T + eye.centre
        vertices = np.concatenate([head, cavity, teeth, *eyeballs, self.static.vertices,
                                   beard.vertices, face[self.oval]]).astype(np.float32)
        vertices[:FACE_VERTICES] = face
        normals = np.concatenate([head_normals, self.cavity_normals, teeth_normals, *eye_normals,
                                  self.static.normals, beard.normals, head_normals[self.oval]]
                                 ).astype(np.float32)
        return HeadMesh(vertices=vertices, normals=normals, colours=self.colours,
                        triangles=self.triangles, labels=self.labels, specular=self.specular,
                        uv=self.uv, texture=self.texture)


# --- identity shape ------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class ShapeBasis:
    """base: float64 (478, 3) neutral face; fields: float64 (P, 478, 3), the displacement of
    each SHAPE_PARAMETERS entry at +1."""

    base: npt.NDArray[np.float64]
    fields: npt.NDArray[np.float64]


@functools.cache
def load_shape_basis() -> ShapeBasis:
    """The identity displacement fields, made once from the base face."""
    model = load_face_model()
    v = model.vertices.astype(np.float64)
    x, y, z = v.T
    regions = model.regions
    nose = _region_weight(model, ["nose"], 2)
    lips = _region_weight(model, ["lips"], 2)
    brows = _region_weight(model, ["left_brow", "right_brow"], 2)
    cheeks = np.maximum(_gaussian(v, v[regions["left_cheek"]].mean(0), 1.8),
                        _gaussian(v, v[regions["right_cheek"]].mean(0), 1.8))
    eye_centres = [v[regions[f"{side}_eye"]].mean(0) for side in ("right", "left")]
    eye_near = [_gaussian(v[:, :2], c[:2], 1.3) for c in eye_centres]
    root = v[168] if len(v) > 168 else v[6]  # nose root between the eyes
    tip = v[4]
    mouth_centre = v[regions["lips"]].mean(0)
    fields = {name: np.zeros_like(v) for name in SHAPE_PARAMETERS}
    fields["face_width"][:, 0] = 0.055 * x
    fields["face_length"][:, 1] = -0.06 * _softplus(-(y + 2.5), 1.0)
    fields["jaw_width"][:, 0] = 0.08 * x * _sigmoid(-(y + 5.5) / 1.2)
    fields["chin_length"][:, 1] = -0.4 * _gaussian(v, v[152] + [0, 0.5, -0.5], 2.2)
    fields["cheek_fullness"] = 0.3 * cheeks[:, None] * vertex_normals(v, model.triangles)
    fields["nose_length"][:, 1] = 0.1 * (y - root[1]) * nose
    fields["nose_length"][:, 2] = 0.06 * (z - root[2]).clip(0) * nose
    fields["nose_width"][:, 0] = 0.14 * x * nose
    fields["nose_projection"][:, 2] = 0.35 * nose * ((z - 1.0) / (tip[2] - 1.0)).clip(0, 1)
    fields["lip_fullness"][:, 1] = 0.16 * (y - mouth_centre[1]) * lips
    fields["lip_fullness"][:, 2] = 0.12 * lips
    mouth_near = _gaussian(v[:, :2], mouth_centre[:2], 2.0)
    fields["mouth_width"][:, 0] = 0.09 * x * mouth_near
    for centre, near in zip(eye_centres, eye_near, strict=True):
        offset = v - centre
        outward = np.sign(centre[0])
        fields["eye_size"][:, :2] += 0.08 * offset[:, :2] * near[:, None]
        fields["eye_spacing"][:, 0] += 0.2 * outward * near
        # Positive tilt raises the outer corners: a rotation about each eye centre.
        tilt = np.deg2rad(4.0) * outward
        fields["eye_tilt"][:, 0] += -tilt * offset[:, 1] * near
        fields["eye_tilt"][:, 1] += tilt * offset[:, 0] * near
    fields["brow_height"][:, 1] = 0.28 * brows
    fields["brow_thickness"][:, 2] = 0.18 * brows
    fields["forehead_height"][:, 1] = 0.35 * _sigmoid((y - 2.6) / 0.6) * ((y - 1.5) / 3.2).clip(0)
    fields["forehead_height"][:, 2] = -0.1 * _sigmoid((y - 2.6) / 0.6) * ((y - 1.5) / 3.2).clip(0)
    normals = vertex_normals(v, model.triangles)
    ridge = np.maximum(*[_gaussian(v[:, :2], np.array([side * 3.3, 1.3]), 1.4)
                         for side in (-1.0, 1.0)])
    fields["brow_ridge"][:, 2] = 0.22 * ridge
    for centre in eye_centres:
        tight = _gaussian(v[:, :2], centre[:2], 0.9)
        fields["eye_height"][:, 1] += 0.12 * (y - centre[1]) * tight
    cheekbones = np.maximum(*[_gaussian(v[:, :2], np.array([side * 4.6, -1.4]), 1.3)
                              for side in (-1.0, 1.0)])
    fields["cheekbones"] = 0.3 * cheekbones[:, None] * normals
    fields["cheekbones"][:, 0] += 0.08 * np.sign(x) * cheekbones
    fields["chin_width"][:, 0] = 0.12 * x * _sigmoid(-(y + 8.8) / 0.8)
    fields["nose_bridge"][:, 2] = 0.3 * nose * _gaussian(v[:, 1:2], np.array([0.0]), 1.3)
    fields["upper_lip"][:, 1] = -0.18 * _gaussian(v[:, :2], mouth_centre[:2] + [0, -0.6], 2.0)
    stack = np.stack([fields[name] for name in SHAPE_PARAMETERS])
    return ShapeBasis(base=v, fields=_symmetrise(stack, model.mirror))


# --- expressions ---------------------------------------------------------------------------

def _make_expression_fields(model: FaceModel, face: npt.NDArray[np.float64]
                            ) -> npt.NDArray[np.float64]:
    """float64 (len(EXPRESSIONS) - 1, 478, 3): the displacement at 1.0 of each expression after
    jaw_open (which is a rotation), on this actor's shaped face."""
    regions = model.regions
    x, y, z = face.T
    corners = [face[61], face[291]]
    corner_near = [_gaussian(face, c, 1.0) for c in corners]
    lips = _region_weight(model, ["lips"], 1)
    fields = {name: np.zeros_like(face) for name in EXPRESSIONS[1:]}
    for near, corner in zip(corner_near, corners, strict=True):
        out = np.sign(corner[0])
        fields["mouth_wide"] += near[:, None] * [0.45 * out, -0.05, -0.15]
        fields["mouth_round"] += near[:, None] * [-0.5 * out, 0.0, 0.1]
        fields["smile"] += near[:, None] * [0.35 * out, 0.5, -0.2]
    fields["mouth_round"][:, 2] += 0.45 * lips
    fields["mouth_round"][:, 1] += -0.12 * (y - face[regions["lips"]].mean(0)[1]) * lips
    for side in ("left", "right"):
        cheek = face[regions[f"{side}_cheek"]].mean(0) + [0, 0.6, 0.3]
        fields["smile"] += _gaussian(face, cheek, 1.6)[:, None] * [0, 0.3, 0.15]
        fields[f"blink_{side}"] = _make_blink_field(model, face, side)
    brow_y = face[np.concatenate([regions["left_brow"], regions["right_brow"]])][:, 1].mean()
    band = _sigmoid((y - brow_y + 0.45) / 0.25) * (1 - 0.5 * _sigmoid((y - brow_y - 2.0) / 0.6))
    band *= np.exp(-(np.maximum(np.abs(x) - 4.8, 0) / 1.0) ** 2)
    fields["brow_raise"][:, 1] = 0.7 * band
    stack = np.stack([fields[name] for name in EXPRESSIONS[1:]])
    stack[:, FACE_VERTICES - 10:] = 0  # the irises stay on the eyeballs
    return stack


def _make_blink_field(model: FaceModel, face: npt.NDArray[np.float64], side: str
                      ) -> npt.NDArray[np.float64]:
    """The displacement closing one eye: the upper-lid ring comes down onto a line just above
    the lower lid, which rises a little; nearby skin follows with a smooth falloff."""
    upper = model.regions[f"{side}_eye_upper"]
    lower = model.regions[f"{side}_eye_lower"]
    # A little forward of both lids so the closed lid stays in front of the eyeball.
    meet = face[lower] + 0.25 * (face[upper] - face[lower]) + [0, 0, 0.12]
    field = np.zeros_like(face)
    for ring, sign in ((upper, 1.0), (lower, -1.0)):
        moves = meet - face[ring]
        order = np.argsort(face[ring, 0])
        ring_x, ring_y = face[ring, 0][order], face[ring, 1][order]
        lid_y = np.interp(face[:, 0], ring_x, ring_y)
        # Skin on the far side of the lid (above the upper, below the lower) follows it.
        distance = np.maximum(sign * (face[:, 1] - lid_y), 0.0)
        reach = 0.8 if sign > 0 else 0.4
        beyond = np.maximum(np.maximum(ring_x[0] - face[:, 0], face[:, 0] - ring_x[-1]), 0.0)
        weight = np.exp(-(distance / reach) ** 2 - (beyond / 0.3) ** 2)
        weight *= sign * (face[:, 1] - lid_y) > -0.05
        weight *= np.abs(face[:, 0] - face[ring, 0].mean()) < 3.0
        for axis in range(3):
            field[:, axis] += weight * np.interp(face[:, 0], ring_x, moves[order, axis])
        field[ring] = moves  # exactly onto the meeting line
    return field


@functools.cache
def load_jaw_weights() -> npt.NDArray[np.float64]:
    """float64 (478,) in [0, 1]: how much each face vertex follows the jaw's rotation; 1 on the
    lower lip and chin, 0 on the upper lip and above, harmonic (smooth) in between."""
    model = load_face_model()
    v = model.vertices.astype(np.float64)
    inner, outer = model.regions["lips_inner"], model.regions["lips_outer"]
    half_inner, half_outer = len(inner) // 2, len(outer) // 2
    lower = set(inner[1:half_inner].tolist()) | set(outer[1:half_outer].tolist())
    upper = set(inner[half_inner + 1:].tolist()) | set(outer[half_outer + 1:].tolist())
    corner_line_y = v[[inner[0], inner[half_inner]], 1].mean()
    for index in model.regions["lips"].tolist():
        if index not in lower and index not in upper:
            (lower if v[index, 1] < corner_line_y else upper).add(index)
    fixed = np.zeros(len(v), dtype=bool)
    values = np.zeros(len(v))
    ones = list(lower) + model.regions["chin"].tolist() + np.flatnonzero(v[:, 1] < -9.5).tolist()
    zeros = list(upper) + np.flatnonzero(v[:, 1] > -4.0).tolist()
    fixed[ones] = fixed[zeros] = True
    values[ones] = 1.0
    values[FACE_VERTICES - 10:] = 0.0
    fixed[FACE_VERTICES - 10:] = True
    adjacency = _adjacency(model)
    degree = np.maximum(np.asarray(adjacency.sum(axis=1)).ravel(), 1)
    for _ in range(600):
        values = np.where(fixed, values, adjacency @ values / degree)
    return values


def rotate_about_x(points: npt.NDArray[np.floating], centre: npt.NDArray[np.floating],
                   angles: float | npt.NDArray[np.floating]) -> npt.NDArray[np.float64]:
    """points (N, 3) rotated about the x axis through `centre` by `angles` (radians, one or
    one per point); positive moves points in front of and below the centre down and back."""
    offset = points - centre
    cos, sin = np.cos(angles), np.sin(angles)
    rotated = offset.astype(np.float64)
    rotated[:, 1] = offset[:, 1] * cos - offset[:, 2] * sin
    rotated[:, 2] = offset[:, 1] * sin + offset[:, 2] * cos
    return rotated + centre


# --- parts beyond the face mesh ------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class Part:
    """A piece of the head in actor space: float (V, 3) vertices and normals, (V, 3) colours,
    int (T, 3) triangles, (V,) labels and specular."""

    vertices: npt.NDArray[np.float64]
    normals: npt.NDArray[np.float64]
    colours: npt.NDArray[np.float64]
    triangles: npt.NDArray[np.int64]
    labels: npt.NDArray[np.uint8]
    specular: npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Skull:
    """The scalp lofted from the face oval back to a pole behind the head (the oval's own
    vertices are its first ring). vertices float64 (N, 3) beyond the face; triangles index the
    face's 478 vertices then these; jaw_weights (N,); centre/radii of the ellipsoid it follows;
    top/back: float (N,) positions along the loft for painting hair."""

    vertices: npt.NDArray[np.float64]
    triangles: npt.NDArray[np.int64]
    jaw_weights: npt.NDArray[np.float64]
    centre: npt.NDArray[np.float64]
    radii: npt.NDArray[np.float64]


@dataclass(frozen=True)
class Eyeball:
    """centre float (3,), radius, iris/pupil half-angles (radians) seen from the centre, and the
    iris landmarks (5, 3) placed on the drawn iris (centre first)."""

    centre: npt.NDArray[np.float64]
    radius: float
    iris_angle: float
    pupil_angle: float
    iris_indices: npt.NDArray[np.int32]
    iris_landmarks: npt.NDArray[np.float64]


def _eye_rotation(gaze_x: float, gaze_y: float) -> npt.NDArray[np.float64]:
    """The eyeball's rotation for a gaze (degrees): about the vertical axis, then the
    horizontal, with the head's axes (x the actor's left, y up, z forward)."""
    x, y = np.radians([gaze_x, -gaze_y])
    about_y = np.array([[np.cos(x), 0, np.sin(x)], [0, 1, 0], [-np.sin(x), 0, np.cos(x)]])
    about_x = np.array([[1, 0, 0], [0, np.cos(y), -np.sin(y)], [0, np.sin(y), np.cos(y)]])
    return about_y @ about_x


def _fit_eyeball(face: npt.NDArray[np.float64], eye: npt.NDArray[np.int32],
                 iris: npt.NDArray[np.int32]) -> Eyeball:
    """A sphere behind the eye opening whose iris is where the iris landmarks say; the landmarks
    move onto the drawn iris boundary."""
    opening = face[eye]
    width = np.ptp(opening[:, 0])
    radius = 0.45 * width
    front = np.array([opening[:, 0].mean(), opening[:, 1].mean(), opening[:, 2].mean() + 0.02])
    centre = front - [0, 0, radius]
    iris_radius = float(np.linalg.norm(face[iris[1:], :2] - face[iris[0], :2], axis=1).mean())
    iris_angle = float(np.arcsin(min(iris_radius / radius, 0.8)))
    directions = face[iris[1:], :2] - face[iris[0], :2]
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    rim = np.column_stack([np.sin(iris_angle) * directions, np.full(4, np.cos(iris_angle))])
    landmarks = centre + radius * np.vstack([[0, 0, 1], rim])
    return Eyeball(centre=centre, radius=float(radius), iris_angle=iris_angle,
                   pupil_angle=0.42 * iris_angle, iris_indices=iris, iris_landmarks=landmarks)


def _make_eyeball_mesh(eye: Eyeball, iris_colour: tuple[float, float, float]) -> Part:
    """The front of the eyeball (to 120 degrees off its axis), with rings doubled at the pupil
    and iris edges so colours and labels change sharply there."""
    a, p = eye.iris_angle, eye.pupil_angle
    angles = np.array([0.0, p, p, a, a, a + 0.2, 1.0, 1.45, 1.9, 2.1])
    ring_colours = [_PUPIL, _PUPIL, iris_colour, iris_colour] + [_EYE_WHITE] * 6
    ring_labels = [IRIS] * 4 + [EYE_WHITE] * 6
    unit, triangles = _lathe(np.sin(angles), np.cos(angles), 16)
    unit = unit[:, [0, 1, 2]]
    keep = np.ones(len(angles) - 1, dtype=bool)
    keep[[1, 3]] = False  # no triangles between a ring and its double
    triangles = _select_bands(triangles, keep, 16)
    per_ring = len(unit) // len(angles)
    colours = np.repeat(np.array(ring_colours, dtype=np.float64), per_ring, axis=0)
    labels = np.repeat(np.array(ring_labels, dtype=np.uint8), per_ring)
    specular = np.repeat(np.where(np.arange(len(angles)) < 5, 1.0, 0.5), per_ring)
    return Part(eye.centre + eye.radius * unit, unit, colours, triangles, labels, specular)


def _make_skull(model: FaceModel, face: npt.NDArray[np.float64], head_depth: float) -> Skull:
    """Loft each face-oval vertex back over an ellipsoidal head to a pole behind it: the scalp
    starts exactly on the face's edge, so there is no seam or gap at any yaw."""
    oval = model.regions["face_oval"]
    oval_points = face[oval]
    width = np.ptp(oval_points[:, 0])
    centre = np.array([0.0, 0.8 + 0.4 * (face[10, 1] - 4.73), SKULL_AXIS_Z])
    radii = np.array([0.57 * width, 11.0 + (face[10, 1] - 4.73), 10.0 * (1 + 0.05 * head_depth)])
    bottom = 7.5
    offset = oval_points[:, :2] - centre[:2]
    theta = np.arctan2(offset[:, 1], offset[:, 0])
    start_radius = np.linalg.norm(offset, axis=1)
    ry = np.where(np.sin(theta) > 0, radii[1], bottom)
    # Above the ears a skull's outline is squarer than an ellipse (a plain ellipse made the
    # crown look pointed under short hair): a superellipse there.
    power = np.where(np.sin(theta) > 0, _CROWN_POWER, 2.0)
    rho = 1 / ((np.abs(np.cos(theta)) / radii[0]) ** power
               + (np.abs(np.sin(theta)) / ry) ** power) ** (1 / power)
    start = np.arccos(np.clip((oval_points[:, 2] - centre[2]) / radii[2], -0.99, 0.99))
    rings = 9
    steps = (np.arange(1, rings) / rings) ** 1.2
    phi = start[None, :] + (np.pi - start[None, :]) * steps[:, None]  # (rings-1, oval)
    ellipse = rho[None, :] * np.sin(phi)
    blend = np.exp(-((phi - start[None, :]) / 0.45) ** 2)
    radius = ellipse + (start_radius - rho * np.sin(start))[None, :] * blend
    points = np.stack([centre[0] + radius * np.cos(theta), centre[1] + radius * np.sin(theta),
                       centre[2] + radii[2] * np.cos(phi)], axis=-1).reshape(-1, 3)
    pole = centre + [0, 0, -radii[2]]
    vertices = np.vstack([points, pole])
    count = len(oval)
    index = np.vstack([oval[None, :], FACE_VERTICES + np.arange((rings - 1) * count)
                       .reshape(rings - 1, count)])
    triangles = []
    for k in range(rings - 1):
        for i in range(count):
            j = (i + 1) % count
            triangles += [(index[k, i], index[k + 1, i], index[k, j]),
                          (index[k, j], index[k + 1, i], index[k + 1, j])]
    pole_index = FACE_VERTICES + len(points)
    triangles += [(index[-1, i], pole_index, index[-1, (i + 1) % count]) for i in range(count)]
    triangles = np.array(triangles)
    jaw = load_jaw_weights()[oval]
    follow = np.clip(1 - np.arange(1, rings) / 4, 0, 1)
    jaw_weights = np.append((follow[:, None] * jaw[None, :]).ravel(), 0.0)
    all_vertices = np.vstack([face, vertices])
    triangles = _orient_outward(all_vertices, triangles, centre)
    return Skull(vertices, triangles, jaw_weights, centre, radii)


def _make_ears(skull: Skull, skin: tuple[float, float, float]) -> list[Part]:
    """Flattened ellipsoids on the sides of the skull at eye-to-nose height."""
    return [_make_ellipsoid(_ear_centre(skull, side), np.array([0.7, 3.0, 1.7]), 8, 10,
                            np.array(skin) * [1.0, 0.9, 0.88], HEAD, 0.1)
            for side in (-1.0, 1.0)]


def _ear_centre(skull: Skull, side: float) -> npt.NDArray[np.float64]:
    """float (3,): the centre of the ear on `side` (-1 the subject's right, +1 their left), just
    outside the skull's ellipsoid."""
    surface_x = skull.radii[0] * np.sqrt(1 - (EAR_FORWARD / skull.radii[2]) ** 2)
    return np.array([side * (surface_x + 0.2), EAR_HEIGHT, skull.centre[2] + EAR_FORWARD])


def _make_neck(skull: Skull, skin: tuple[float, float, float]) -> Part:
    """An open cylinder from inside the head to below the collar."""
    heights = np.linspace(-3.0, -19.0, 5)
    unit, triangles = _lathe(np.ones(len(heights)), heights, 14)
    radii = np.array([0.68 * skull.radii[0], 1.0, 5.0])
    centre = np.array([0.0, 0.0, skull.centre[2] + 1.2])
    vertices = centre + unit[:, [0, 2, 1]] * radii
    normals = unit[:, [0, 2, 1]] * [1, 0, 1]
    triangles = _orient_outward(vertices, triangles, centre + [0, -10, 0], axis_mask=[1, 0, 1])
    shade = np.array(skin) * 0.88
    return Part(vertices, normals, np.tile(shade, (len(vertices), 1)), triangles,
                np.full(len(vertices), NECK, dtype=np.uint8), np.full(len(vertices), 0.1))


def _make_shoulders(skull: Skull, clothes: tuple[float, float, float]) -> Part:
    """The top of a wide flattened ellipsoid below the neck, in clothing colour."""
    return _make_ellipsoid(SHOULDER_OFFSET + [0.0, 0.0, skull.centre[2]], SHOULDER_RADII, 8, 20,
                           np.array(clothes), CLOTHES, 0.05, top_only=True)


def _make_ellipsoid(centre: npt.NDArray[np.float64], radii: npt.NDArray[np.float64],
                    rings: int, segments: int, colour: npt.NDArray[np.float64], label: int,
                    specular: float, top_only: bool = False) -> Part:
    """An ellipsoid (axis y) with smooth outward normals, optionally its upper half only."""
    polar = np.linspace(0, np.pi / 2 if top_only else np.pi, rings + 1)
    unit, triangles = _lathe(np.sin(polar), np.cos(polar), segments)
    unit = unit[:, [0, 2, 1]]  # lathe axis z -> y
    vertices = centre + unit * radii
    normals = unit / radii
    normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
    triangles = _orient_outward(vertices, triangles, centre)
    return Part(vertices, normals, np.tile(colour, (len(vertices), 1)), triangles,
                np.full(len(vertices), label, dtype=np.uint8), np.full(len(vertices), specular))


def _make_teeth(face: npt.NDArray[np.float64], model: FaceModel) -> tuple[Part, Part]:
    """Upper (fixed to the skull) and lower (moving with the jaw) rows of teeth: curved strips
    a few millimetres behind the inner lips, hidden while the mouth is closed."""
    inner = face[model.regions["lips_inner"]]
    half = np.abs(inner[:, 0]).max()
    xs = np.linspace(-0.72 * half, 0.72 * half, 9)
    order = np.argsort(inner[:, 0])
    mouth_y = np.interp(xs, inner[order, 0], inner[order, 1])
    mouth_z = np.interp(xs, inner[order, 0], inner[order, 2]) - 0.35 - 0.12 * (xs / half) ** 2
    parts = []
    for top, bottom in ((0.25, -0.55), (-0.15, 0.45)):
        rows = [np.column_stack([xs, mouth_y + top, mouth_z]),
                np.column_stack([xs, mouth_y + top + bottom if top < 0 else mouth_y + bottom,
                                 mouth_z - 0.05])]
        vertices = np.vstack(rows)
        n = len(xs)
        triangles = np.array([(i, n + i, i + 1) for i in range(n - 1)]
                             + [(i + 1, n + i, n + i + 1) for i in range(n - 1)])
        normals = np.tile([0.0, 0.0, 1.0], (len(vertices), 1))
        parts.append(Part(vertices, normals, np.tile(_TEETH, (len(vertices), 1)), triangles,
                          np.full(len(vertices), MOUTH, dtype=np.uint8),
                          np.full(len(vertices), 0.6)))
    return parts[0], parts[1]


def _make_tongue(face: npt.NDArray[np.float64], model: FaceModel) -> Part:
    """A flattened ellipsoid on the floor of the mouth, its tip just behind the lower teeth
    and its top a little above their edge, short enough to stay inside the cavity's pocket:
    seen only when the jaw opens."""
    inner = face[model.regions["lips_inner"]]
    half = np.abs(inner[:, 0]).max()
    front = np.array([0.0, inner[:, 1].mean(), inner[:, 2].max()])
    radii = np.array([0.7 * half, 0.35, 0.9])
    centre = front + [0.0, 0.35 - radii[1], -0.5 - radii[2]]
    return _make_ellipsoid(centre, radii, 6, 12, np.array(_TONGUE), MOUTH, 0.5)


def _make_cavity(ring: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """float64 (3R + 1, 3): a dark pocket behind the inner lip ring, rebuilt every frame so it
    follows the lips as the jaw opens."""
    centre = ring.mean(axis=0)
    layers = [centre + 1.08 * (ring - centre) + [0, 0, -0.12],
              centre + 0.85 * (ring - centre) + [0, 0, -0.7],
              centre + 0.45 * (ring - centre) + [0, 0, -1.3]]
    return np.vstack([*layers, centre + [0, 0, -1.6]])


def _make_cavity_triangles(count: int) -> npt.NDArray[np.int64]:
    """Triangles of `_make_cavity`'s layers (winding is irrelevant: its normals are fixed)."""
    triangles = []
    for layer in range(2):
        for i in range(count):
            a, b = layer * count + i, layer * count + (i + 1) % count
            triangles += [(a, a + count, b), (b, a + count, b + count)]
    back = 3 * count
    triangles += [(2 * count + i, back, 2 * count + (i + 1) % count) for i in range(count)]
    return np.array(triangles)


# --- colours -------------------------------------------------------------------------------

def _label_face(model: FaceModel) -> tuple[npt.NDArray[np.uint8], npt.NDArray[np.float64]]:
    """Per-vertex label and specular of the face mesh (its colour is its texture)."""
    lips = np.zeros(FACE_VERTICES, dtype=bool)
    lips[model.regions["lips"]] = True
    labels = np.where(lips, LIPS, SKIN).astype(np.uint8)
    specular = np.where(lips, 0.5, 0.25)
    return labels, specular


def _paint_skull(skull: Skull, actor: Actor) -> npt.NDArray[np.float64]:
    """Skin with a short-hair cap over the top and back of the head (under grown hair it hides
    any gap at the hair's edge); plain skin when bald."""
    if actor.hair_style == "bald":
        return np.tile(np.array(actor.skin) * 0.97, (len(skull.vertices), 1))
    x, y, z = skull.vertices.T
    hairline = np.interp(z, [-16.0, -10.5, -5.0, 0.0], [-6.5, -2.5, 2.0, 4.9])
    hair = _sigmoid((y - hairline) / 0.35)
    return ((1 - hair)[:, None] * np.array(actor.skin) * 0.97
            + hair[:, None] * np.array(actor.hair))


def _shade_stubble(weights: npt.NDArray[np.float64], actor: Actor) -> npt.NDArray[np.float64]:
    """The face's vertex colours (478, 3): white, which leaves the skin texture as it is, except
    where stubble or the skin under a beard takes `weights` of the hair colour. The texture
    multiplies these, so mixing in hair means scaling by hair / skin (capped at 1: a lighter
    beard than the skin only tints it)."""
    ratio = np.minimum(np.array(actor.hair) / np.maximum(np.array(actor.skin), 1e-3), 1.0)
    return 1 - weights[:, None] * (1 - ratio)


# --- helpers -------------------------------------------------------------------------------

def _lathe(radius: npt.NDArray[np.float64], height: npt.NDArray[np.float64], segments: int
           ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """A surface of revolution about z: rings (radius[k], height[k]) of `segments` vertices
    each (ring k vertex s at index k * segments + s), and the quads between rings as
    triangles (winding not yet oriented)."""
    angle = 2 * np.pi * np.arange(segments) / segments
    vertices = np.stack([radius[:, None] * np.cos(angle), radius[:, None] * np.sin(angle),
                         np.broadcast_to(height[:, None], (len(radius), segments))],
                        axis=-1).reshape(-1, 3)
    k, s = np.meshgrid(np.arange(len(radius) - 1), np.arange(segments), indexing="ij")
    a = k * segments + s
    b = k * segments + (s + 1) % segments
    triangles = np.concatenate([np.stack([a, b, a + segments], -1).reshape(-1, 3),
                                np.stack([b, b + segments, a + segments], -1).reshape(-1, 3)])
    return vertices, triangles


def _select_bands(triangles: npt.NDArray[np.int64], keep: npt.NDArray[np.bool_], segments: int
                  ) -> npt.NDArray[np.int64]:
    """The `_lathe` triangles of the bands (between ring k and k + 1) where keep[k]."""
    band = triangles.min(axis=1) // segments
    return triangles[keep[band]]


def _orient_outward(vertices: npt.NDArray[np.float64], triangles: npt.NDArray[np.int64],
                    centre: npt.NDArray[np.float64], axis_mask: list[float] | None = None
                    ) -> npt.NDArray[np.int64]:
    """Flip each triangle whose normal points towards `centre` (optionally measuring away
    from an axis by masking coordinates), so smooth normals come out outward."""
    corners = vertices[triangles]
    normal = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    away = corners.mean(axis=1) - centre
    if axis_mask is not None:
        away = away * axis_mask
    inward = np.einsum("ij,ij->i", normal, away) < 0
    flipped = triangles.copy()
    flipped[inward] = triangles[inward][:, [0, 2, 1]]
    return flipped


def _concatenate(parts: list[Part]) -> Part:
    """The parts as one, with triangle indices offset."""
    offsets = np.cumsum([0] + [len(p.vertices) for p in parts])
    return Part(np.vstack([p.vertices for p in parts]), np.vstack([p.normals for p in parts]),
                np.vstack([p.colours for p in parts]),
                np.vstack([p.triangles + o for p, o in zip(parts, offsets, strict=False)]),
                np.concatenate([p.labels for p in parts]),
                np.concatenate([p.specular for p in parts]))


def _empty_part() -> Part:
    """A part with nothing in it (no beard)."""
    return Part(np.zeros((0, 3)), np.zeros((0, 3)), np.zeros((0, 3)),
                np.zeros((0, 3), np.int64), np.zeros(0, np.uint8), np.zeros(0))


def _adjacency(model: FaceModel) -> sparse.csr_matrix:
    """Symmetric 0/1 vertex adjacency (478 x 478) of the face mesh."""
    t = model.triangles
    rows = np.concatenate([t[:, 0], t[:, 1], t[:, 2], t[:, 1], t[:, 2], t[:, 0]])
    cols = np.concatenate([t[:, 1], t[:, 2], t[:, 0], t[:, 0], t[:, 1], t[:, 2]])
    matrix = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)),
                               shape=(FACE_VERTICES, FACE_VERTICES)).tocsr()
    matrix.data[:] = 1.0
    return matrix


def _region_weight(model: FaceModel, names: list[str], steps: int) -> npt.NDArray[np.float64]:
    """float64 (478,) in [0, 1]: 1 on the regions, fading smoothly over `steps` mesh rings."""
    weight = np.zeros(FACE_VERTICES)
    for name in names:
        weight[model.regions[name]] = 1.0
    adjacency = _adjacency(model)
    degree = np.maximum(np.asarray(adjacency.sum(axis=1)).ravel(), 1)
    for _ in range(steps):
        weight = np.maximum(weight, 0.5 * (adjacency @ weight / degree + weight))
    return weight


def _gaussian(points: npt.NDArray[np.float64], centre: npt.NDArray[np.float64], sigma: float
              ) -> npt.NDArray[np.float64]:
    return np.exp(-np.sum((points - centre) ** 2, axis=1) / (2 * sigma ** 2))


def _sigmoid(t: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return 1 / (1 + np.exp(-t))


def _softplus(t: npt.NDArray[np.float64], width: float) -> npt.NDArray[np.float64]:
    return width * np.logaddexp(0, t / width)


def _symmetrise(fields: npt.NDArray[np.float64], mirror: npt.NDArray[np.int32]
                ) -> npt.NDArray[np.float64]:
    """Average each field with its mirror image so that rounding never breaks symmetry."""
    mirrored = fields[:, mirror] * [-1, 1, 1]
    return 0.5 * (fields + mirrored)


def _interpolate_palette(palette: npt.NDArray[np.float64], position: float
                         ) -> npt.NDArray[np.float64]:
    low = int(np.floor(position))
    high = min(low + 1, len(palette) - 1)
    return palette[low] + (position - low) * (palette[high] - palette[low])


def _colour(value: npt.NDArray[np.float64]) -> tuple[float, float, float]:
    clipped = np.clip(value, 0.0, 1.0)
    return (float(clipped[0]), float(clipped[1]), float(clipped[2]))


def _actor_key(actor: Actor) -> tuple[object, ...]:
    """Every field of `actor`, hashable (its shape is a dict)."""
    values = (getattr(actor, field.name) for field in dataclasses.fields(actor))
    return tuple(tuple(sorted(value.items())) if isinstance(value, dict) else value
                 for value in values)


_BUILDERS: collections.OrderedDict[tuple[object, ...], HeadBuilder] = collections.OrderedDict()
_CACHE_SIZE = 8


def _cached_builder(key: tuple[object, ...], actor: Actor) -> HeadBuilder:
    """The builder for `actor`, kept for the last few actors (a builder costs ~20 ms; a frame
    ~1 ms)."""
    builder = _BUILDERS.pop(key, None) or HeadBuilder(actor)
    _BUILDERS[key] = builder
    while len(_BUILDERS) > _CACHE_SIZE:
        _BUILDERS.popitem(last=False)
    return builder
