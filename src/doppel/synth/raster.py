"""A small CPU mesh rasteriser (OpenGL through Mesa's llvmpipe): smooth-shaded, anti-aliased
triangles with a coverage mask, a depth map and a per-pixel part label, for synthetic actors.

Conventions (the same as numpy indexing and OpenCV's warpAffine/remap):
- Vertices come already projected: x right and y down in pixels, z a depth (larger = farther).
  A vertex at (x, y) = (j, i) lies on the centre of pixel [i, j]; pixel [i, j] covers
  x in [j - 0.5, j + 0.5) and y in [i - 0.5, i + 0.5). (Normalised coordinates u in [0, 1]
  across the image, as mediapipe gives, convert with x = u * width - 0.5.)
- The mapping to pixels is exact and affine; attributes and z are interpolated linearly in
  screen space (the caller does any perspective projection, so landmarks it projects itself
  land exactly on the rendered features).
- Normals and light directions are in the camera space of that projection: x right, y down,
  z away from the viewer, so a surface facing the camera has normal (0, 0, -1).
- Winding does not matter unless `cull_back_faces` is asked for; then a triangle is front
  facing when its vertices run counter-clockwise as the image is viewed (y down).

Speed: on one core llvmpipe is bound by triangle set-up (0.5-1 µs per visible triangle) more
than by pixels at 256-512 px, so the triangle count is the budget to watch; 4x MSAA costs
2-3x. `cull_back_faces` halves a closed mesh's cost. Mesa reads
LP_NUM_THREADS once per process, when the first GL context is created (0: rasterise in the
calling thread).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from doppel.errors import DoppelError

log = logging.getLogger("doppel.synth")

# Depth values handed to GL are (z - near) / (far - near) with near/far taken from each draw;
# the margin keeps the farthest vertex strictly inside the depth range.
_DEPTH_MARGIN = 1e-3
# The mesh pass's texture unit; the composite pass uses units 0-3.
_ALBEDO_UNIT = 4

_MESH_VERTEX_SHADER = """
#version 330
uniform vec2 pixel_to_ndc_scale;
uniform vec2 pixel_to_ndc_offset;
uniform vec2 depth_range;  // near, far (caller's z)
in vec3 in_position;
in vec3 in_normal;
in vec3 in_colour;
in vec2 in_uv;
in float in_specular;
in uint in_label;
out vec3 v_normal;
out vec3 v_colour;
out vec2 v_uv;
out float v_specular;
out float v_z;
flat out uint v_label;
void main() {
    float depth = (in_position.z - depth_range.x) / (depth_range.y - depth_range.x);
    // y is not flipped: GL's row 0 is read back first, so the image arrives top row first.
    gl_Position = vec4(in_position.xy * pixel_to_ndc_scale + pixel_to_ndc_offset,
                       depth * 2.0 - 1.0, 1.0);
    v_normal = in_normal;
    v_colour = in_colour;
    v_uv = in_uv;
    v_specular = in_specular;
    v_z = in_position.z;
    v_label = in_label;
}
"""

_MESH_FRAGMENT_SHADER = """
#version 330
uniform vec3 light_direction;  // unit, towards the light
uniform vec3 light_colour;
uniform float ambient;
uniform float specular;
uniform float shininess;
uniform bool textured;
uniform sampler2D albedo;
in vec3 v_normal;
in vec3 v_colour;
in vec2 v_uv;
in float v_specular;
in float v_z;
flat in uint v_label;
layout(location = 0) out vec4 out_colour;
layout(location = 1) out uint out_label;
layout(location = 2) out float out_z;
void main() {
    vec3 normal = normalize(v_normal);
    // Orthographic view: the viewer is towards -z everywhere.
    vec3 halfway = normalize(light_direction + vec3(0.0, 0.0, -1.0));
    float diffuse = max(dot(normal, light_direction), 0.0);
    float highlight = pow(max(dot(normal, halfway), 0.0), shininess) * specular * v_specular;
    vec3 colour = textured ? v_colour * texture(albedo, v_uv).rgb : v_colour;
    vec3 lit = colour * (ambient + (1.0 - ambient) * diffuse) + highlight;
    // Cleared to zero, colour and z resolve premultiplied by coverage (alpha).
    out_colour = vec4(lit * light_colour, 1.0);
    out_label = v_label;
    out_z = v_z;
}
"""

_COMPOSITE_VERTEX_SHADER = """
#version 330
void main() {
    // One triangle that covers the whole viewport.
    vec2 corner = vec2(float((gl_VertexID & 1) << 2) - 1.0, float((gl_VertexID & 2) << 1) - 1.0);
    gl_Position = vec4(corner, 0.0, 1.0);
}
"""

# Reads single-sample (already resolved) textures: texelFetch on multisample textures is
# about ten times slower in llvmpipe than a resolving blit followed by this pass.
_COMPOSITE_FRAGMENT_SHADER = """
#version 330
uniform sampler2D colour;
uniform usampler2D labels;
uniform sampler2D z;
uniform sampler2D background;
layout(location = 0) out vec4 out_rgb;
layout(location = 1) out float out_mask;
layout(location = 2) out float out_depth;
void main() {
    ivec2 pixel = ivec2(gl_FragCoord.xy);
    vec4 premultiplied = texelFetch(colour, pixel, 0);
    vec3 under = texelFetch(background, pixel, 0).rgb;
    out_rgb = vec4(premultiplied.rgb + under * (1.0 - premultiplied.a), 1.0);
    out_mask = premultiplied.a;
    out_depth = texelFetch(labels, pixel, 0).r == 0u
        ? 1.0 / 0.0 : texelFetch(z, pixel, 0).r / premultiplied.a;
}
"""


@dataclass(frozen=True)
class Light:
    """One directional light with Blinn-Phong shading, in the renderer's camera space.

    direction: towards the light (x right, y down, z away from the viewer); need not be unit.
    colour: RGB multiplier of the light. ambient: the share of the light that reaches every
    surface whatever its normal; the rest is diffuse, so a surface facing the light shows its
    own colour. specular, shininess: strength and sharpness of the highlight.
    """

    direction: tuple[float, float, float] = (-0.4, -0.5, -1.0)
    colour: tuple[float, float, float] = (1.0, 1.0, 1.0)
    ambient: float = 0.35
    specular: float = 0.15
    shininess: float = 24.0


@dataclass(frozen=True)
class Mesh:
    """Triangles to draw, in the module's conventions (see the module docstring).

    positions: float32 Vx3, (x, y) in pixels, z depth (larger = farther).
    normals: float32 Vx3, camera space, any length (they are normalised per pixel).
    colours: float32 Vx3, RGB in [0, 1]; lighting multiplies them.
    triangles: int32 Tx3 vertex indices.
    labels: uint8 V, a part id per vertex for `Rendered.labels` (use 1-255; 0 is background).
        Each triangle takes its first vertex's label. None: all 1.
    specular: float32 V, per-vertex highlight strength multiplying `Light.specular`.
        None: all 1.
    uv: float32 Vx2, texture coordinates: u right, v down across `texture`, (0, 0) its top-left
        corner and (1, 1) its bottom-right one (texel [i, j]'s centre is ((j + 0.5) / W,
        (i + 0.5) / H)). Interpolated in screen space like every attribute.
    texture: RGB uint8 HxWx3, sampled bilinearly with mipmaps (clamped at its edges) and
        multiplied with the vertex colour before lighting. Give both uv and texture or neither.
        The renderer uploads a texture again only when a different array object arrives, so
        reuse one array across frames and never modify it in place.
    """

    positions: npt.NDArray[np.float32]
    normals: npt.NDArray[np.float32]
    colours: npt.NDArray[np.float32]
    triangles: npt.NDArray[np.int32]
    labels: npt.NDArray[np.uint8] | None = None
    specular: npt.NDArray[np.float32] | None = None
    uv: npt.NDArray[np.float32] | None = None
    texture: npt.NDArray[np.uint8] | None = None


@dataclass(frozen=True, eq=False)
class Rendered:
    """One rendered frame.

    rgb: RGB uint8 HxWx3, the mesh composited over the background.
    mask: float32 HxW in [0, 1], the share of each pixel the mesh covers (anti-aliased;
        in steps of 1/255).
    labels: uint8 HxW, the part id at one sample point of the pixel (not anti-aliased: the
        pixel centre without MSAA, a point within 0.4 px of it with), 0 where that is empty.
    depth: float32 HxW, the caller's z where `labels` is not 0, +inf elsewhere; the pixel
        centre's inside a triangle, a mean over the covered samples across edges.
    """

    rgb: npt.NDArray[np.uint8]
    mask: npt.NDArray[np.float32]
    labels: npt.NDArray[np.uint8]
    depth: npt.NDArray[np.float32]


class Renderer:
    """Draws meshes into frames of one size, reusing one GL context and its buffers.

    samples: MSAA samples per pixel (1 = no anti-aliasing: a binary mask, about twice as fast).
    threads: llvmpipe rasteriser threads (0 = the calling thread). Mesa reads this once per
        process, at the first GL context, so pass it to the first Renderer made; None leaves
        Mesa's default (one per core) or the caller's LP_NUM_THREADS as they are.
    Not thread-safe; use one Renderer per thread. Close it, or use it as a context manager.
    """

    def __init__(self, width: int, height: int, *, samples: int = 4,
                 threads: int | None = None) -> None:
        if width < 1 or height < 1:
            raise ValueError(f"size must be positive, got {width}x{height}")
        if samples not in (1, 2, 4, 8):
            raise ValueError(f"samples must be 1, 2, 4 or 8, got {samples}")
        self.width = width
        self.height = height
        self.samples = samples
        self._ctx = create_context(threads)
        try:
            with self._ctx:
                self._create_pipeline()
        except BaseException:
            self._ctx.release()
            raise

    def _create_pipeline(self) -> None:
        import moderngl

        ctx = self._ctx
        size = (self.width, self.height)
        if self.samples > ctx.max_samples:
            raise DoppelError(f"this OpenGL driver offers at most {ctx.max_samples} samples per "
                              f"pixel; use samples={ctx.max_samples} or fewer")
        msaa = self.samples if self.samples > 1 else 0
        self._mesh_program = ctx.program(vertex_shader=_MESH_VERTEX_SHADER,
                                         fragment_shader=_MESH_FRAGMENT_SHADER)
        self._composite_program = ctx.program(vertex_shader=_COMPOSITE_VERTEX_SHADER,
                                              fragment_shader=_COMPOSITE_FRAGMENT_SHADER)
        resolved = [ctx.texture(size, 4), ctx.texture(size, 1, dtype="u1"),
                    ctx.texture(size, 1, dtype="f4")]
        self._resolved = ctx.framebuffer(resolved)
        self._mesh_framebuffer = ctx.framebuffer(
            [ctx.texture(size, 4, samples=msaa), ctx.texture(size, 1, dtype="u1", samples=msaa),
             ctx.texture(size, 1, dtype="f4", samples=msaa)] if msaa else resolved,
            ctx.depth_renderbuffer(size, samples=msaa),
        )
        self._background = ctx.texture(size, 3)
        self._textures = (*resolved, self._background)
        for unit, (name, texture) in enumerate(zip(("colour", "labels", "z", "background"),
                                                   self._textures)):
            texture.filter = (moderngl.NEAREST, moderngl.NEAREST)
            self._composite_program[name].value = unit
        self._labels = resolved[1]
        self._composited = ctx.framebuffer([ctx.texture(size, 4), ctx.texture(size, 1, dtype="f4"),
                                            ctx.texture(size, 1, dtype="f4")])
        self._composite_vao = ctx.vertex_array(self._composite_program, [])
        # y is not flipped on the way to GL, which mirrors the winding.
        ctx.front_face = "cw"
        ctx.cull_face = "back"
        ctx.provoking_vertex = moderngl.FIRST_VERTEX_CONVENTION
        # pixel x (centre of column x at x) -> window x + 0.5 -> NDC
        self._mesh_program["pixel_to_ndc_scale"].value = (2.0 / self.width, 2.0 / self.height)
        self._mesh_program["pixel_to_ndc_offset"].value = (1.0 / self.width - 1.0,
                                                           1.0 / self.height - 1.0)
        self._vertex_capacity = 0
        self._index_capacity = 0
        self._mesh_vao = None
        self._background_colour: tuple[int, int, int] | None = None
        self._mesh_program["albedo"].value = _ALBEDO_UNIT
        self._albedo = None
        # The array last uploaded, kept so its identity cannot be reused by a new array.
        self._albedo_source: npt.NDArray[np.uint8] | None = None

    def _reserve(self, vertex_count: int, index_count: int) -> None:
        """Grow the vertex and index buffers (and rebuild the vertex array) when too small."""
        if (self._mesh_vao is not None and vertex_count <= self._vertex_capacity
                and index_count <= self._index_capacity):
            return
        ctx = self._ctx
        if self._mesh_vao is not None:
            self._mesh_vao.release()
            for buffer in (*self._vertex_buffers.values(), self._index_buffer):
                buffer.release()
        # Headroom so a mesh that changes size a little each frame does not reallocate.
        self._vertex_capacity = max(vertex_count, self._vertex_capacity) * 5 // 4 + 16
        self._index_capacity = max(index_count, self._index_capacity) * 5 // 4 + 48
        vertices = self._vertex_capacity
        self._vertex_buffers = {
            "in_position": ctx.buffer(reserve=vertices * 12, dynamic=True),
            "in_normal": ctx.buffer(reserve=vertices * 12, dynamic=True),
            "in_colour": ctx.buffer(reserve=vertices * 12, dynamic=True),
            "in_uv": ctx.buffer(reserve=vertices * 8, dynamic=True),
            "in_specular": ctx.buffer(reserve=vertices * 4, dynamic=True),
            "in_label": ctx.buffer(reserve=vertices, dynamic=True),
        }
        formats = {"in_position": "3f", "in_normal": "3f", "in_colour": "3f", "in_uv": "2f",
                   "in_specular": "1f", "in_label": "1u1"}
        self._index_buffer = ctx.buffer(reserve=self._index_capacity * 4, dynamic=True)
        self._mesh_vao = ctx.vertex_array(
            self._mesh_program,
            [(buffer, formats[name], name) for name, buffer in self._vertex_buffers.items()],
            self._index_buffer,
            index_element_size=4,
        )

    def draw(self, mesh: Mesh, light: Light = Light(), *,
             background: npt.NDArray[np.uint8] | tuple[int, int, int] = (0, 0, 0),
             cull_back_faces: bool = False) -> Rendered:
        """Render `mesh` lit by `light` over `background` (RGB uint8 HxWx3, or one colour).

        cull_back_faces: skip triangles wound clockwise on screen (see the module docstring);
            about halves the cost of a closed, consistently wound mesh.
        """
        import moderngl

        arrays = validate_mesh(mesh)
        with self._ctx:
            self._upload_mesh(arrays)
            self._upload_texture(mesh.texture)
            self._upload_background(background)
            depth_range = measure_depth_range(arrays["in_position"])
            self._set_light(light, depth_range)

            ctx = self._ctx
            self._mesh_framebuffer.use()
            self._mesh_framebuffer.clear(0.0, 0.0, 0.0, 0.0, depth=1.0)
            ctx.enable_only(moderngl.DEPTH_TEST | (moderngl.CULL_FACE if cull_back_faces else 0))
            self._mesh_vao.render(moderngl.TRIANGLES, vertices=len(arrays["triangles"]))

            if self.samples > 1:
                ctx.copy_framebuffer(self._resolved, self._mesh_framebuffer)
            self._composited.use()
            ctx.enable_only(moderngl.NOTHING)
            for unit, texture in enumerate(self._textures):
                texture.use(unit)
            self._composite_vao.render(moderngl.TRIANGLES, vertices=3)
            return self._read_back()

    def _upload_mesh(self, arrays: dict[str, np.ndarray]) -> None:
        triangles = arrays["triangles"]
        self._reserve(len(arrays["in_position"]), len(triangles))
        for name, buffer in self._vertex_buffers.items():
            if name in arrays:  # no uv: the shader does not read them
                buffer.write(arrays[name])
        self._index_buffer.write(triangles)

    def _upload_texture(self, texture: npt.NDArray[np.uint8] | None) -> None:
        """Bind `texture` for the mesh pass, uploading it (and its mipmaps) only when it is not
        the array uploaded last: an actor's texture is the same object every frame."""
        import moderngl

        self._mesh_program["textured"].value = texture is not None
        if texture is None:
            return
        if texture is not self._albedo_source:
            height, width = texture.shape[:2]
            if self._albedo is None or self._albedo.size != (width, height):
                if self._albedo is not None:
                    self._albedo.release()
                self._albedo = self._ctx.texture((width, height), 3, alignment=1)
                self._albedo.filter = (moderngl.LINEAR_MIPMAP_LINEAR, moderngl.LINEAR)
                self._albedo.repeat_x = self._albedo.repeat_y = False
            self._albedo.write(np.ascontiguousarray(texture))
            self._albedo.build_mipmaps()
            self._albedo_source = texture
        self._albedo.use(_ALBEDO_UNIT)

    def _upload_background(self, background: npt.NDArray[np.uint8] | tuple[int, int, int]
                           ) -> None:
        if isinstance(background, tuple):
            # A plain colour is uploaded only when it changes.
            if background != self._background_colour:
                plane = np.empty((self.height, self.width, 3), np.uint8)
                plane[:] = np.asarray(background, np.uint8)
                self._background.write(plane)
                self._background_colour = background
            return
        if background.shape != (self.height, self.width, 3) or background.dtype != np.uint8:
            raise ValueError(f"background must be uint8 {self.height}x{self.width}x3, got "
                             f"{background.dtype} {background.shape}")
        self._background.write(np.ascontiguousarray(background))
        self._background_colour = None

    def _set_light(self, light: Light, depth_range: tuple[float, float]) -> None:
        direction = np.asarray(light.direction, np.float64)
        length = float(np.linalg.norm(direction))
        if not length > 0:
            raise ValueError(f"light direction must be non-zero, got {light.direction}")
        program = self._mesh_program
        program["light_direction"].value = tuple(float(c) for c in direction / length)
        program["light_colour"].value = tuple(float(c) for c in light.colour)
        program["ambient"].value = float(light.ambient)
        program["specular"].value = float(light.specular)
        program["shininess"].value = float(light.shininess)
        program["depth_range"].value = depth_range

    def _read_back(self) -> Rendered:
        shape = (self.height, self.width)
        rgb = np.empty((*shape, 3), np.uint8)
        mask = np.empty(shape, np.float32)
        labels = np.empty(shape, np.uint8)
        depth = np.empty(shape, np.float32)
        self._composited.read_into(rgb, components=3, attachment=0)
        self._composited.read_into(mask, components=1, attachment=1, dtype="f4")
        self._composited.read_into(depth, components=1, attachment=2, dtype="f4")
        self._labels.read_into(labels)
        return Rendered(rgb=rgb, mask=mask, labels=labels, depth=depth)

    def close(self) -> None:
        """Release the GL context and everything in it; the renderer cannot draw after this."""
        if self._ctx is not None:
            self._ctx.release()
            self._ctx = None

    def __enter__(self) -> Renderer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def create_context(threads: int | None):
    """A headless OpenGL 3.3+ context (EGL), with llvmpipe's thread count set if asked."""
    if threads is not None:
        if threads < 0:
            raise ValueError(f"threads must be >= 0, got {threads}")
        os.environ["LP_NUM_THREADS"] = str(threads)
    try:
        import moderngl

        ctx = moderngl.create_standalone_context(require=330, backend="egl")
    except Exception as error:  # moderngl and glcontext raise bare Exceptions
        raise DoppelError(
            "cannot create an OpenGL context for rendering synthetic actors: install Mesa's "
            f"EGL and GL drivers (Debian/Ubuntu: apt install libegl1 libgl1-mesa-dri) ({error})"
        ) from error
    if threads is not None:
        warn_if_threads_differ(ctx, threads)
    return ctx


def warn_if_threads_differ(ctx, threads: int) -> None:
    """Say so when llvmpipe started its threads earlier in the process with another count."""
    if "llvmpipe" not in ctx.info["GL_RENDERER"]:
        return
    try:
        tasks = os.listdir("/proc/self/task")
        names = [open(f"/proc/self/task/{task}/comm").read().strip() for task in tasks]
    except OSError:
        return  # not Linux, or a thread ended while we looked: nothing to check against
    running = sum(name.startswith("llvmpipe-") for name in names)
    if running != threads:
        log.warning("llvmpipe runs %d rasteriser threads, not %d: Mesa fixes the count at the "
                    "first OpenGL context of a process", running, threads)


def validate_mesh(mesh: Mesh) -> dict[str, np.ndarray]:
    """The mesh's arrays as the vertex buffers want them, after checking shapes and indices."""
    positions = np.ascontiguousarray(mesh.positions, np.float32)
    count = len(positions)
    if positions.ndim != 2 or positions.shape[1] != 3:
        raise ValueError(f"positions must be Vx3, got {positions.shape}")
    arrays = {"in_position": positions}
    for name, values in (("in_normal", mesh.normals), ("in_colour", mesh.colours)):
        arrays[name] = np.ascontiguousarray(values, np.float32)
        if arrays[name].shape != (count, 3):
            raise ValueError(f"{name[3:]}s must be {count}x3 like positions, "
                             f"got {arrays[name].shape}")
    arrays["in_label"] = (np.ones(count, np.uint8) if mesh.labels is None
                          else np.ascontiguousarray(mesh.labels, np.uint8))
    arrays["in_specular"] = (np.ones(count, np.float32) if mesh.specular is None
                             else np.ascontiguousarray(mesh.specular, np.float32))
    for name in ("in_label", "in_specular"):
        if arrays[name].shape != (count,):
            raise ValueError(f"{name[3:]} must have one value per vertex ({count}), "
                             f"got {arrays[name].shape}")
    if (mesh.uv is None) != (mesh.texture is None):
        raise ValueError("give a mesh both uv and texture, or neither")
    if mesh.uv is not None:
        arrays["in_uv"] = np.ascontiguousarray(mesh.uv, np.float32)
        if arrays["in_uv"].shape != (count, 2):
            raise ValueError(f"uv must be {count}x2 like positions, got {arrays['in_uv'].shape}")
        texture = mesh.texture
        if texture.dtype != np.uint8 or texture.ndim != 3 or texture.shape[2] != 3:
            raise ValueError(f"texture must be RGB uint8 HxWx3, got {texture.dtype} "
                             f"{texture.shape}")
    triangles = np.ascontiguousarray(mesh.triangles, np.int32)
    if triangles.ndim != 2 or triangles.shape[1] != 3:
        raise ValueError(f"triangles must be Tx3, got {triangles.shape}")
    if triangles.size and (triangles.min() < 0 or triangles.max() >= count):
        raise ValueError(f"triangle indices must lie in [0, {count})")
    arrays["triangles"] = triangles.reshape(-1)
    return arrays


def measure_depth_range(positions: npt.NDArray[np.float32]) -> tuple[float, float]:
    """(near, far) in the caller's z that maps this draw's depths strictly inside GL's range."""
    if len(positions) == 0:
        return 0.0, 1.0
    z = positions[:, 2]
    near, far = float(z.min()), float(z.max())
    margin = max(far - near, abs(near), abs(far), 1.0) * _DEPTH_MARGIN
    return near - margin, far + margin
