"""Backdrops for the sketch renderer: sky and ground tinted by the light, seeded hills, trees and buildings."""

from __future__ import annotations

import random
import re

import numpy as np
from PIL import Image, ImageDraw

from tools.render.job import RenderJob

# keywords -> sky top/bottom, ground top/bottom, scenery, accent (windows, sun, moon), disc height
_LIGHTS = (
    (("neon",), ((30, 10, 50), (110, 35, 105)), ((15, 60, 70), (8, 30, 40)), (20, 12, 35), (255, 110, 170), None),
    (("night", "moon", "dark"), ((10, 14, 40), (30, 40, 85)), ((25, 30, 50), (12, 14, 28)), (8, 10, 22),
     (250, 225, 140), 0.25),
    (("sunset", "dusk", "golden", "twilight", "evening"), ((60, 40, 100), (225, 125, 105)),
     ((90, 60, 60), (45, 30, 40)), (50, 30, 55), (255, 205, 120), 0.75),
    (("dawn", "sunrise"), ((150, 150, 200), (245, 185, 190)), ((140, 130, 130), (95, 90, 100)), (110, 95, 120),
     (255, 235, 200), 0.8),
    (("candle", "lamp", "fire", "warm", "tungsten"), ((95, 60, 35), (160, 105, 60)), ((110, 70, 40), (60, 38, 22)),
     (70, 45, 28), (255, 200, 110), None),
    (("rain", "overcast", "grey", "gray", "fog", "mist", "storm"), ((150, 155, 160), (195, 198, 200)),
     ((110, 112, 110), (80, 82, 82)), (120, 124, 128), (215, 215, 215), None),
)
_DAYLIGHT = (((95, 150, 215), (190, 215, 235)), ((120, 150, 95), (85, 115, 70)), (100, 120, 130),
             (250, 245, 215), 0.2)
_TREE_WORDS = {"forest", "wood", "woods", "park", "garden", "field", "meadow", "jungle", "farm",
               "countryside", "orchard", "hill", "hills", "mountain", "lake", "river", "beach"}
_BUILDING_WORDS = {"city", "street", "town", "alley", "road", "station", "office", "building",
                   "rooftop", "market", "square", "room", "library", "kitchen", "bar", "hall"}

_HORIZON = {"extreme_close_up": 0.7, "close_up": 0.62, "medium_close_up": 0.62, "medium": 0.64,
            "american": 0.66, "full": 0.66, "long": 0.62, "extreme_long": 0.58, "detail": 0.22}
_SCENERY_SIZE = {"extreme_long": 0.06, "long": 0.11, "full": 0.15, "detail": 0.0}


def scaled(cx: float, cy: float, s: float):
    """Return a function turning a box in units of s around (cx, cy) into a pixel box."""
    return lambda x0, y0, x1, y1: box(cx + x0 * s, cy + y0 * s, cx + x1 * s, cy + y1 * s)


def lighting_tints(lighting: str) -> dict[str, object]:
    """Return the colours a lighting phrase maps to: sky, ground, scenery, accent and disc height."""
    text = lighting.lower()
    chosen = next((tuple(tints) for keys, *tints in _LIGHTS if any(key in text for key in keys)), _DAYLIGHT)
    return dict(zip(("sky", "ground", "scenery", "accent", "disc"), chosen))

def mix(a, b, t: float) -> tuple[int, int, int]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))


def box(x0: float, y0: float, x1: float, y1: float) -> list[float]:
    return [min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)]


def _gradient(w: int, p: int, horizon: int, tints: dict) -> Image.Image:
    """Fill the picture with a vertical sky gradient above the horizon and a ground gradient below."""
    (s0, s1), (g0, g1) = tints["sky"], tints["ground"]
    column = [mix(s0, s1, y / max(horizon, 1)) if y < horizon
              else mix(g0, g1, (y - horizon) / max(p - horizon, 1)) for y in range(p)]
    pixels = np.repeat(np.array(column, dtype=np.uint8)[:, None, :], w, axis=1)
    return Image.fromarray(np.ascontiguousarray(pixels), "RGB")


def _building(draw, rng, x: float, bw: float, bh: float, horizon: int, tints: dict) -> None:
    draw.rectangle(box(x, horizon - bh, x + bw, horizon), fill=tints["scenery"])
    pane, unlit = bw / 7, mix(tints["scenery"], tints["sky"][1], 0.25)
    y = horizon - bh + pane
    while pane >= 2 and y + 2 * pane < horizon:
        for col in range(3):
            lit = rng.random() < 0.35
            draw.rectangle(box(x + pane * (1 + 2 * col), y, x + pane * (2 + 2 * col), y + pane * 1.2),
                           fill=tints["accent"] if lit else unlit)
        y += pane * 2.2


def _draw_scenery(draw, rng, w: int, horizon: int, size: float, tints: dict, trees: bool) -> None:
    """Draw far hills, then a seeded row of buildings or trees standing on the horizon."""
    points, x = [(0, horizon)], 0.0
    while x < w + size:
        points.append((x, horizon - rng.uniform(0.2, 0.8) * size))
        x += rng.uniform(0.8, 1.8) * size
    draw.polygon(points + [(w, horizon)], fill=mix(tints["scenery"], tints["sky"][1], 0.55))
    x = -rng.uniform(0, size)
    while x < w:
        bw, bh = rng.uniform(0.5, 1.2) * size, rng.uniform(0.7, 2.3) * size
        if trees:
            cx = x + bw / 2
            draw.rectangle(box(cx - bw * 0.08, horizon - bh * 0.45, cx + bw * 0.08, horizon), fill=tints["scenery"])
            draw.ellipse(box(x, horizon - bh, x + bw, horizon - bh * 0.3), fill=tints["scenery"])
        else:
            _building(draw, rng, x, bw, bh, horizon, tints)
        x += bw + rng.uniform(0.05, 0.7) * size


def _clear_reserved(image: Image.Image, reserved: set) -> Image.Image:
    """Nudge any backdrop pixel that happens to equal a reserved colour (skin, clothes) off by one."""
    clashes = {colour for _, colour in image.getcolors(image.width * image.height)} & reserved
    if not clashes:
        return image
    pixels = np.array(image)
    for colour in clashes:
        pixels[np.all(pixels == np.array(colour, dtype=np.uint8), axis=-1), 0] ^= 1
    return Image.fromarray(pixels, "RGB")


def paint_backdrop(job: RenderJob, w: int, p: int, rng: random.Random, reserved: set) -> tuple[Image.Image, int]:
    """Paint the seeded backdrop for this shot type; return it with the horizon row."""
    tints = lighting_tints(job.lighting)
    horizon = round(p * _HORIZON[job.shot_type])
    if job.shot_type == "detail":  # a darker wall above a table top instead of sky and land
        tints["sky"] = tuple(mix(c, (0, 0, 0), 0.3) for c in tints["sky"])
    image = _gradient(w, p, horizon, tints)
    draw = ImageDraw.Draw(image)
    size = p * _SCENERY_SIZE.get(job.shot_type, 0.2)
    words = set(re.findall(r"[a-z]+", job.setting.lower()))
    trees = bool(words & _TREE_WORDS) or (not words & _BUILDING_WORDS and rng.random() < 0.5)
    if size == 0:
        draw.line([(0, horizon), (w, horizon)], fill=tints["scenery"], width=max(1, p // 100))
        return _clear_reserved(image, reserved), horizon
    if tints["disc"] is not None:
        disc = scaled(rng.uniform(0.1, 0.9) * w, tints["disc"] * horizon, 0.05 * min(w, p))
        draw.ellipse(disc(-1, -1, 1, 1), fill=tints["accent"])
    _draw_scenery(draw, rng, w, horizon, size, tints, trees)
    return _clear_reserved(image, reserved), horizon
