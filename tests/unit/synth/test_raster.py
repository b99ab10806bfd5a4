"""The synthetic-actor rasteriser: pixel placement to a fraction of a pixel, depth, smooth
shading, masks, labels and compositing, checked against geometry known in closed form."""

from __future__ import annotations

import numpy as np
import pytest

from doppel.errors import DoppelError
from doppel.synth.raster import Light, Mesh, Renderer

FRONT = (0.0, 0.0, -1.0)  # a normal facing the camera (z points away from the viewer)
FLAT_LIGHT = Light(direction=FRONT, ambient=1.0, specular=0.0)  # rgb == vertex colour


@pytest.fixture(scope="module")
def make_renderer():
    """Renderers that close at the end of the module; skips when no GL context can be made."""
    made: list[Renderer] = []

    def make(width: int = 64, height: int = 48, samples: int = 4) -> Renderer:
        try:
            renderer = Renderer(width, height, samples=samples)
        except DoppelError as error:
            pytest.skip(f"no OpenGL context: {error}")
        made.append(renderer)
        return renderer

    yield make
    for renderer in made:
        renderer.close()


def make_mesh(positions, triangles, *, colour=(0.8, 0.6, 0.4), normals=None,
              labels=None) -> Mesh:
    positions = np.asarray(positions, np.float32)
    if positions.shape[1] == 2:
        positions = np.hstack([positions, np.full((len(positions), 1), 10.0, np.float32)])
    count = len(positions)
    normals = np.tile(np.float32(FRONT), (count, 1)) if normals is None else normals
    return Mesh(positions=positions, normals=np.asarray(normals, np.float32),
                colours=np.tile(np.float32(colour), (count, 1)),
                triangles=np.asarray(triangles, np.int32),
                labels=None if labels is None else np.asarray(labels, np.uint8))


def make_rectangle(x0: float, y0: float, x1: float, y1: float, z: float = 10.0,
                   label: int = 1, colour=(0.8, 0.6, 0.4)) -> Mesh:
    corners = [(x0, y0, z), (x1, y0, z), (x1, y1, z), (x0, y1, z)]
    return make_mesh(corners, [(0, 1, 2), (0, 2, 3)], labels=[label] * 4, colour=colour)


def merge(*meshes: Mesh) -> Mesh:
    offsets = np.cumsum([0] + [len(mesh.positions) for mesh in meshes[:-1]])
    return Mesh(
        positions=np.concatenate([mesh.positions for mesh in meshes]),
        normals=np.concatenate([mesh.normals for mesh in meshes]),
        colours=np.concatenate([mesh.colours for mesh in meshes]),
        triangles=np.concatenate([mesh.triangles + o for mesh, o in zip(meshes, offsets)]),
        labels=np.concatenate([mesh.labels for mesh in meshes]),
    )


def make_icosphere(subdivisions: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit icosphere: float32 Vx3 vertices (also their normals), int32 Tx3 triangles."""
    t = (1 + 5 ** 0.5) / 2
    vertices = [(-1, t, 0), (1, t, 0), (-1, -t, 0), (1, -t, 0), (0, -1, t), (0, 1, t),
                (0, -1, -t), (0, 1, -t), (t, 0, -1), (t, 0, 1), (-t, 0, -1), (-t, 0, 1)]
    faces = [(0, 11, 5), (0, 5, 1), (0, 1, 7), (0, 7, 10), (0, 10, 11), (1, 5, 9),
             (5, 11, 4), (11, 10, 2), (10, 7, 6), (7, 1, 8), (3, 9, 4), (3, 4, 2), (3, 2, 6),
             (3, 6, 8), (3, 8, 9), (4, 9, 5), (2, 4, 11), (6, 2, 10), (8, 6, 7), (9, 8, 1)]
    vertices = [np.array(v, float) / np.linalg.norm(v) for v in vertices]
    for _ in range(subdivisions):
        midpoints: dict[tuple[int, int], int] = {}

        def midpoint(a: int, b: int) -> int:
            key = (min(a, b), max(a, b))
            if key not in midpoints:
                middle = vertices[a] + vertices[b]
                vertices.append(middle / np.linalg.norm(middle))
                midpoints[key] = len(vertices) - 1
            return midpoints[key]

        faces = [new for a, b, c in faces for new in (
            (a, midpoint(a, b), midpoint(c, a)), (b, midpoint(b, c), midpoint(a, b)),
            (c, midpoint(c, a), midpoint(b, c)),
            (midpoint(a, b), midpoint(b, c), midpoint(c, a)))]
    return np.array(vertices, np.float32), np.array(faces, np.int32)


def make_sphere_mesh(centre: tuple[float, float], radius: float, subdivisions: int = 2,
                     flat: bool = False) -> Mesh:
    """A sphere in front of the camera; `flat` gives each face its own normal (facets)."""
    unit, triangles = make_icosphere(subdivisions)
    normals = unit
    if flat:
        unit = unit[triangles.reshape(-1)]
        normals = np.repeat(unit.reshape(-1, 3, 3).mean(1), 3, axis=0)
        triangles = np.arange(len(unit), dtype=np.int32).reshape(-1, 3)
    positions = unit * radius + np.float32([centre[0], centre[1], 1000.0])
    return make_mesh(positions, triangles, colour=(1.0, 1.0, 1.0), normals=normals)


def mask_centroid(mask: np.ndarray) -> np.ndarray:
    rows, cols = np.indices(mask.shape)
    return np.array([(cols * mask).sum(), (rows * mask).sum()]) / mask.sum()


@pytest.mark.parametrize("samples", [1, 4])
def test_square_on_pixel_edges_covers_exactly_those_pixels(make_renderer, samples):
    # Pixel [i, j] is centred on (x, y) = (j, i): edges at j - 0.5 enclose whole pixels.
    out = make_renderer(samples=samples).draw(make_rectangle(9.5, 4.5, 19.5, 14.5))
    expected = np.zeros((48, 64), np.float32)
    expected[5:15, 10:20] = 1
    np.testing.assert_array_equal(out.mask, expected)
    np.testing.assert_array_equal(out.labels, expected.astype(np.uint8))


def test_unit_square_around_a_pixel_centre_fills_that_pixel(make_renderer):
    renderer = make_renderer()
    out = renderer.draw(make_rectangle(29.5, 19.5, 30.5, 20.5))
    assert out.mask[20, 30] == 1 and out.mask.sum() == 1
    # Half a pixel to the right, it straddles two pixels equally.
    out = renderer.draw(make_rectangle(30.0, 19.5, 31.0, 20.5))
    assert out.mask[20, 30] == out.mask[20, 31] == pytest.approx(0.5, abs=1 / 255)
    assert out.mask.sum() == pytest.approx(1, abs=2 / 255)


@pytest.mark.parametrize("shift", [(0.0, 0.0), (0.3, -0.2), (0.5, 0.5), (-0.37, 0.81)])
def test_triangle_centroid_and_area_match_its_vertices(make_renderer, shift):
    corners = np.array([(12.2, 7.9), (55.6, 18.3), (24.8, 41.1)]) + shift
    out = make_renderer().draw(make_mesh(corners, [(0, 1, 2)]))
    (x0, y0), (x1, y1), (x2, y2) = corners
    area = abs((x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)) / 2
    assert out.mask.sum() == pytest.approx(area, rel=0.01)
    np.testing.assert_allclose(mask_centroid(out.mask), corners.mean(0), atol=0.03)


def test_image_rows_run_down_and_columns_right(make_renderer):
    out = make_renderer(64, 48).draw(make_rectangle(-0.5, -0.5, 3.5, 1.5))
    assert out.mask[:2, :4].min() == 1 and out.mask.sum() == 8


@pytest.mark.parametrize("near_first", [True, False])
def test_nearer_surface_wins_whatever_the_draw_order(make_renderer, near_first):
    near = make_rectangle(10, 10, 40, 30, z=5.0, label=2, colour=(1, 0, 0))
    far = make_rectangle(20, 15, 60, 40, z=7.5, label=3, colour=(0, 0, 1))
    out = make_renderer().draw(merge(near, far) if near_first else merge(far, near),
                               FLAT_LIGHT)
    assert out.labels[20, 30] == 2 and tuple(out.rgb[20, 30]) == (255, 0, 0)
    assert out.labels[35, 50] == 3 and tuple(out.rgb[35, 50]) == (0, 0, 255)
    assert out.depth[20, 30] == pytest.approx(5.0, abs=1e-4)
    assert out.depth[35, 50] == pytest.approx(7.5, abs=1e-4)
    assert np.isinf(out.depth[2, 2]) and out.labels[2, 2] == 0


def test_depth_is_interpolated_across_a_sloped_triangle(make_renderer):
    corners = [(0, 0, 100.0), (63, 0, 163.0), (0, 47, 100.0)]  # z = 100 + x
    out = make_renderer().draw(make_mesh(corners, [(0, 1, 2)]))
    inside = out.mask == 1
    columns = np.broadcast_to(np.arange(64, dtype=np.float32), out.depth.shape)
    np.testing.assert_allclose(out.depth[inside], 100 + columns[inside], atol=1e-3)


def test_mask_labels_and_background_compositing(make_renderer):
    background = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    circle = make_sphere_mesh((31.3, 22.6), 15.2, subdivisions=3)
    out = make_renderer().draw(circle, FLAT_LIGHT, background=background)
    inside, outside = out.mask == 1, out.mask == 0
    edge = ~inside & ~outside
    assert inside.sum() > 500 and edge.sum() > 50 and outside.sum() > 1500
    assert out.mask.dtype == np.float32 and out.mask.min() >= 0 and out.mask.max() <= 1
    np.testing.assert_array_equal(out.rgb[outside], background[outside])
    assert (out.rgb[inside] == 255).all()  # white, flat-lit, whatever lies beneath
    blend = out.mask[edge, None] * 255 + (1 - out.mask[edge, None]) * background[edge]
    np.testing.assert_allclose(out.rgb[edge], blend, atol=2)
    assert (out.labels[inside] == 1).all() and (out.labels[outside] == 0).all()
    assert set(np.unique(out.labels[edge])) == {0, 1}
    assert np.isfinite(out.depth[out.labels > 0]).all() and np.isinf(out.depth[outside]).all()


def test_labels_come_from_each_vertex_part(make_renderer):
    parts = merge(make_rectangle(5, 5, 20, 20, label=7), make_rectangle(30, 5, 50, 20, label=200))
    out = make_renderer().draw(parts)
    assert out.labels[12, 12] == 7 and out.labels[12, 40] == 200 and out.labels[30, 30] == 0


def test_sphere_is_smoothly_shaded_and_lit_from_the_light_side(make_renderer):
    renderer = make_renderer(256, 256)
    light = Light(direction=(-1.0, 0.0, -0.6), ambient=0.2, specular=0.0)
    smooth = renderer.draw(make_sphere_mesh((128, 128), 100), light)
    faceted = renderer.draw(make_sphere_mesh((128, 128), 100, flat=True), light)

    def largest_step(out) -> float:
        row = out.rgb[128, 40:217, 0].astype(float)  # well inside the disc
        return float(np.abs(np.diff(row, 2)).max())  # a crease shows as a curvature spike

    assert largest_step(smooth) <= 2 < 3 * 2 <= largest_step(faceted)
    # The lit side is the light's: left (x < 0) in front (z < 0).
    left, right = smooth.rgb[128, 60, 0], smooth.rgb[128, 196, 0]
    assert left > right + 100
    # Per-pixel Lambert matches the exact sphere closely (finer mesh: less polygon error).
    smooth = renderer.draw(make_sphere_mesh((128, 128), 100, subdivisions=3), light)
    rows, cols = np.indices((256, 256))
    x, y = (cols - 128) / 100, (rows - 128) / 100
    inside = x**2 + y**2 < 0.95**2
    normal = np.stack([x, y, -np.sqrt(np.clip(1 - x**2 - y**2, 0, 1))], -1)
    direction = np.array(light.direction) / np.linalg.norm(light.direction)
    expected = 255 * (0.2 + 0.8 * np.clip(normal @ direction, 0, None))
    assert np.abs(smooth.rgb[..., 0][inside] - expected[inside]).max() < 3


def test_back_faces_are_culled_only_when_asked(make_renderer):
    renderer = make_renderer()
    counter_clockwise = make_mesh([(10, 10), (10, 40), (40, 10)], [(0, 1, 2)])  # as seen
    clockwise = make_mesh([(10, 10), (40, 10), (10, 40)], [(0, 1, 2)])
    assert renderer.draw(clockwise).mask.sum() > 400
    assert renderer.draw(counter_clockwise, cull_back_faces=True).mask.sum() > 400
    assert renderer.draw(clockwise, cull_back_faces=True).mask.sum() == 0


def test_one_renderer_draws_many_frames_of_changing_meshes(make_renderer):
    renderer = make_renderer(96, 80)
    first = renderer.draw(make_sphere_mesh((40, 40), 20, subdivisions=1))
    for subdivisions in (0, 3, 1, 2, 0, 4, 1):  # buffers grow and shrink under it
        renderer.draw(make_sphere_mesh((50, 30), 25, subdivisions=subdivisions))
    again = renderer.draw(make_sphere_mesh((40, 40), 20, subdivisions=1))
    for name in ("rgb", "mask", "labels", "depth"):
        np.testing.assert_array_equal(getattr(again, name), getattr(first, name))


def test_renderers_of_several_sizes_live_side_by_side(make_renderer):
    sizes = [(1280, 720), (101, 57), (33, 200)]
    renderers = [make_renderer(width, height, samples) for (width, height), samples
                 in zip(sizes, (4, 1, 4))]
    for _ in range(2):
        for renderer, (width, height) in zip(renderers, sizes):
            out = renderer.draw(make_rectangle(width - 10.5, height - 5.5, width + 5, height + 5))
            assert out.rgb.shape == (height, width, 3) and out.mask.shape == (height, width)
            assert out.mask.sum() == pytest.approx(50) and out.mask[-5:, -10:].min() == 1


def test_empty_mesh_leaves_the_background(make_renderer):
    out = make_renderer().draw(make_mesh(np.zeros((0, 3)), np.zeros((0, 3))),
                               background=(10, 20, 30))
    assert (out.rgb == (10, 20, 30)).all() and out.mask.max() == 0 and np.isinf(out.depth).all()


def test_bad_indices_are_refused(make_renderer):
    with pytest.raises(ValueError, match="indices"):
        make_renderer().draw(make_mesh([(0, 0), (1, 0), (0, 1)], [(0, 1, 3)]))


def test_missing_opengl_raises_a_doppel_error(monkeypatch):
    import moderngl

    def fail(*args, **kwargs):
        raise Exception("libEGL.so.1: cannot open shared object file")

    monkeypatch.setattr(moderngl, "create_standalone_context", fail)
    with pytest.raises(DoppelError, match="install Mesa"):
        Renderer(8, 8)


def make_textured_rectangle(x0: float, y0: float, x1: float, y1: float, texture: np.ndarray,
                            uv=((0, 0), (1, 0), (1, 1), (0, 1)), colour=(1.0, 1.0, 1.0)) -> Mesh:
    rectangle = make_rectangle(x0, y0, x1, y1, colour=colour)
    return Mesh(rectangle.positions, rectangle.normals, rectangle.colours, rectangle.triangles,
                rectangle.labels, uv=np.asarray(uv, np.float32), texture=texture)


def make_quadrant_texture() -> np.ndarray:
    """32x32: red top-left, green top-right, blue bottom-left, white bottom-right."""
    texture = np.zeros((32, 32, 3), np.uint8)
    texture[:16, :16] = (255, 0, 0)
    texture[:16, 16:] = (0, 255, 0)
    texture[16:, :16] = (0, 0, 255)
    texture[16:, 16:] = (255, 255, 255)
    return texture


def test_texture_shows_where_the_uvs_say(make_renderer):
    renderer = make_renderer(samples=1)
    # 32 x 32 pixels over the 32 x 32 texels: one texel a pixel.
    mesh = make_textured_rectangle(15.5, 7.5, 47.5, 39.5, make_quadrant_texture())
    rgb = renderer.draw(mesh, FLAT_LIGHT).rgb.astype(int)
    np.testing.assert_allclose(rgb[15, 23], (255, 0, 0), atol=2)
    np.testing.assert_allclose(rgb[15, 39], (0, 255, 0), atol=2)
    np.testing.assert_allclose(rgb[31, 23], (0, 0, 255), atol=2)
    np.testing.assert_allclose(rgb[31, 39], (255, 255, 255), atol=2)
    # Mirrored u: the quadrants swap sides; the vertex colour multiplies the texture.
    mirrored = make_textured_rectangle(15.5, 7.5, 47.5, 39.5, make_quadrant_texture(),
                                       uv=((1, 0), (0, 0), (0, 1), (1, 1)),
                                       colour=(0.5, 1.0, 1.0))
    rgb = renderer.draw(mirrored, FLAT_LIGHT).rgb.astype(int)
    np.testing.assert_allclose(rgb[15, 23], (0, 255, 0), atol=2)
    np.testing.assert_allclose(rgb[15, 39], (128, 0, 0), atol=2)
    np.testing.assert_allclose(rgb[31, 39], (0, 0, 255), atol=2)


def test_minified_texture_is_filtered_not_aliased(make_renderer):
    renderer = make_renderer(samples=1)
    stripes = np.zeros((256, 256, 3), np.uint8)
    stripes[:, ::2] = 255  # one-texel stripes: point sampling would give pure black or white
    rgb = renderer.draw(make_textured_rectangle(9.5, 9.5, 25.5, 25.5, stripes), FLAT_LIGHT).rgb
    inside = rgb[12:23, 12:23].astype(int)
    assert 110 < inside.min() and inside.max() < 145


def test_texture_changes_with_the_array_and_untextured_meshes_are_plain(make_renderer):
    renderer = make_renderer(samples=1)
    red, blue = (np.zeros((8, 8, 3), np.uint8) for _ in range(2))
    red[..., 0] = 255
    blue[..., 2] = 255
    for texture, expected in ((red, (255, 0, 0)), (blue, (0, 0, 255)), (red, (255, 0, 0))):
        rgb = renderer.draw(make_textured_rectangle(9.5, 9.5, 25.5, 25.5, texture), FLAT_LIGHT).rgb
        np.testing.assert_allclose(rgb[17, 17].astype(int), expected, atol=2)
    plain = renderer.draw(make_rectangle(9.5, 9.5, 25.5, 25.5, colour=(0.2, 0.4, 0.6)),
                          FLAT_LIGHT).rgb
    np.testing.assert_allclose(plain[17, 17].astype(int), (51, 102, 153), atol=2)


def test_uv_without_a_texture_is_refused(make_renderer):
    rectangle = make_rectangle(9.5, 9.5, 25.5, 25.5)
    mesh = Mesh(rectangle.positions, rectangle.normals, rectangle.colours, rectangle.triangles,
                uv=np.zeros((4, 2), np.float32))
    with pytest.raises(ValueError, match="both uv and texture"):
        make_renderer(samples=1).draw(mesh)
