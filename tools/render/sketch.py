"""A quick procedural previz renderer: flat shapes that show framing, cast and light at a glance.

Heads (and the detail-shot hand) use the one SKIN tone and each character's clothes one exact palette
colour, so a frame's framing can be measured from its pixels.
"""

from __future__ import annotations

import random
import re
import zlib
from dataclasses import asdict, fields

from PIL import Image, ImageDraw

from prompts.shot_types import shot_by_slug
from tools.fonts import draw_text, fit, line_height, text_length
from tools.render.job import Figure, ProgressFn, RenderJob, RenderResult
from tools.render.scenery import mix as _mix, paint_backdrop, scaled as _scaled

_DIFFUSION_ONLY = ("adapters", "steps", "guidance", "scheduler")
"""Job fields only diffusion looks at; a sketch's key leaves them out."""

SKIN = (236, 188, 150)
PALETTE = ((230, 25, 75), (0, 130, 200), (60, 180, 75), (255, 225, 25),
           (145, 30, 180), (170, 240, 20), (70, 240, 240), (240, 50, 230))
HAIR = ((45, 32, 25), (90, 60, 35), (25, 25, 30), (130, 95, 55), (160, 150, 140))
PROP, PAPER = (196, 158, 72), (238, 232, 214)
LABEL_BG, FACE_INK = (24, 24, 28), (50, 35, 30)

_PAPER_WORDS = {"letter", "note", "paper", "map", "photo", "photograph", "page", "envelope", "book"}
_CROPPED_SPAN = {"close_up": 1.6, "medium_close_up": 2.55, "medium": 3.4, "american": 4.7}
_WHOLE = {"full": (0.78, 0.93), "long": (0.45, 0.86), "extreme_long": (0.14, 0.8)}


def figure_colour(name: str) -> tuple[int, int, int]:
    """Return the clothing colour a character gets by itself: a PALETTE entry picked by CRC32 of the name."""
    return PALETTE[zlib.crc32(name.encode("utf-8")) % len(PALETTE)]


def cast_colours(names: list[str] | tuple[str, ...]) -> dict[str, tuple[int, int, int]]:
    """Give every name in one frame its own colour.

    A name keeps figure_colour(name) unless an alphabetically earlier name in the same frame already
    holds that colour; such names take the unused palette colours in order instead.
    """
    colours: dict[str, tuple[int, int, int]] = {}
    clashing = []
    for name in sorted(set(names)):
        if figure_colour(name) in colours.values():
            clashing.append(name)
        else:
            colours[name] = figure_colour(name)
    free = [colour for colour in PALETTE if colour not in colours.values()]
    for k, name in enumerate(clashing):
        colours[name] = free[k] if k < len(free) else PALETTE[k % len(PALETTE)]
    return colours



def figure_colours(figures: tuple[Figure, ...]) -> dict[str, tuple[int, int, int]]:
    """Each figure's clothes: the colour its description names, else one kept per cast place (or per name).

    Two figures whose descriptions name the same colour keep their cast colours, so the two stay apart.
    """
    colours = cast_colours([figure.name for figure in figures if figure.slot < 0])
    colours.update({f.name: PALETTE[f.slot % len(PALETTE)] for f in figures if f.slot >= 0})
    dressed = [f.colour for f in figures if f.colour]
    colours.update({f.name: f.colour for f in figures if f.colour and dressed.count(f.colour) == 1
                    and f.colour not in colours.values()})
    return colours


def position_x(position: str) -> float:
    """Return where a figure's centre sits, as a share of the width: left 0.25, right 0.75, else 0.5."""
    text = position.lower()
    return 0.25 if "left" in text else 0.75 if "right" in text else 0.5


def figure_frame(shot_type: str, picture_height: int) -> tuple[float, float]:
    """Return (head top y, head unit in px) that frames a figure for a shot type in a picture."""
    p = picture_height
    if shot_type == "extreme_close_up":
        return -0.1 * p, 1.15 * p
    if shot_type in _CROPPED_SPAN:
        return 0.07 * p, 0.93 * p / _CROPPED_SPAN[shot_type]
    share, feet = _WHOLE.get(shot_type, _WHOLE["full"])
    return (feet - share) * p, share * p / 8


def _draw_body(draw, cx: float, top: float, u: float, colour) -> None:
    """Draw neck, torso, arms and legs in head units (shoulders 1.5, waist 3.2, knees 5.7, feet 8)."""
    box = _scaled(cx, top, u)

    def at(*points):
        return [(cx + x * u, top + y * u) for x, y in points]

    draw.rectangle(box(-0.13, 0.85, 0.13, 1.35), fill=colour)
    for side in (-1, 1):
        draw.polygon(at((side * 0.6, 1.36), (side * 0.9, 1.55), (side * 1.0, 3.95), (side * 0.78, 4.0),
                        (side * 0.64, 1.95)), fill=colour)
        draw.polygon(at((side * 0.05, 3.9), (side * 0.6, 3.9), (side * 0.48, 7.8), (side * 0.14, 7.8)), fill=colour)
        draw.ellipse(box(side * 0.1, 7.62, side * 0.62, 8.0), fill=colour)
    draw.polygon(at((-0.5, 1.28), (0.5, 1.28), (0.82, 1.52), (0.64, 3.3), (-0.64, 3.3), (-0.82, 1.52)), fill=colour)
    draw.rectangle(box(-0.64, 3.1, 0.64, 4.1), fill=colour)
    shade, line = _mix(colour, (0, 0, 0), 0.4), max(1, round(u * 0.07))
    draw.line(at((-0.62, 3.2), (0.62, 3.2)), fill=shade, width=line)
    draw.line(at((-0.3, 1.3), (0.0, 1.7), (0.3, 1.3)), fill=shade, width=line)


def _draw_head(draw, cx: float, top: float, u: float, hair) -> None:
    """Draw hair behind an oval SKIN head and, when it is big enough, a simple face."""
    box = _scaled(cx, top, u)
    draw.ellipse(box(-0.48, -0.16, 0.48, 0.78), fill=hair)
    draw.ellipse(box(-0.375, 0, 0.375, 1), fill=SKIN)
    if u < 14:
        return
    line = max(1, round(u * 0.025))
    for ex in (-0.14, 0.14):
        draw.ellipse(box(ex - 0.07, 0.42, ex + 0.07, 0.5), fill=(245, 245, 240))
        draw.ellipse(box(ex - 0.03, 0.425, ex + 0.03, 0.495), fill=FACE_INK)
        draw.line(box(ex - 0.08, 0.36, ex + 0.08, 0.36), fill=hair, width=line * 2)
    draw.line([(cx, top + 0.5 * u), (cx + 0.04 * u, top + 0.63 * u), (cx - 0.02 * u, top + 0.64 * u)],
              fill=FACE_INK, width=line)
    draw.arc(box(-0.12, 0.66, 0.12, 0.8), 20, 160, fill=(160, 70, 70), width=line * 2)


def _draw_label(draw, text: str, colour, x: float, y: float, size: tuple[int, int], font: int) -> list[int]:
    """Draw text (any script, at `font` pixels) in a dark box centred on x with its top at y, kept inside
    the picture."""
    bw, bh = round(text_length(text, font)) + 4, line_height(font) + 4
    x0 = round(min(max(x - bw / 2, 1), size[0] - bw - 1))
    y0 = round(min(max(y, 1), size[1] - bh - 1))
    draw.rectangle([x0, y0, x0 + bw, y0 + bh], fill=LABEL_BG)
    # clothes a description made black or navy get a lighter label; the palette's colours keep theirs
    dark = tuple(colour) not in PALETTE and 0.3 * colour[0] + 0.59 * colour[1] + 0.11 * colour[2] < 90
    draw_text(draw, (x0 + 2, y0 + 2), text, font, _mix(colour, (255, 255, 255), 0.6) if dark else colour)
    return [x0, y0, x0 + bw, y0 + bh]


def _draw_cast(draw, job: RenderJob, size: tuple[int, int], colours: dict) -> dict:
    """Draw every figure framed for the shot type, then their name labels on top."""
    w, p = size
    top, u = figure_frame(job.shot_type, p)
    font = max(8, round(p / 30))
    centres = [w * position_x(figure.position) for figure in job.figures]
    for figure, cx in zip(job.figures, centres):
        _draw_body(draw, cx, top, u, colours[figure.name])
        _draw_head(draw, cx, top, u, HAIR[(zlib.crc32(figure.name.encode("utf-8")) >> 8) % len(HAIR)])
    figures = []
    for figure, cx in zip(job.figures, centres):
        name, colour = figure.label or figure.name, colours[figure.name]
        if job.shot_type in _WHOLE:  # above the head
            y = top - 0.2 * u - (line_height(font) + 6)
            label = _draw_label(draw, name, colour, cx, y, size, font)
        elif job.shot_type == "extreme_close_up":  # at the top of the face
            label = _draw_label(draw, name, colour, cx, 4, size, font)
        else:  # beside the head, on the left
            x = cx - 0.5 * u - text_length(name, font) / 2 - 6
            label = _draw_label(draw, name, colour, x, top + 0.15 * u, size, font)
        figures.append({"name": figure.name, "colour": list(colour), "centre_x": round(cx), "head_top": round(top),
                        "label_box": label})
    return {"head_unit": round(u, 2), "figures": figures}


def _draw_hand(draw, cx: float, size: tuple[int, int], colour) -> None:
    """Draw a large raised SKIN hand rising out of a sleeve at the bottom of the picture."""
    w, p = size
    s = 0.55 * min(w, p)
    box = _scaled(cx, p, s)
    draw.rounded_rectangle(box(-0.3, -1.15, 0.3, -0.55), radius=0.1 * s, fill=SKIN)
    for k, length in enumerate((0.42, 0.5, 0.47, 0.36)):
        draw.rounded_rectangle(box(-0.29 + k * 0.15, -1.15 - length, -0.16 + k * 0.15, -1.05),
                               radius=0.06 * s, fill=SKIN)
    draw.polygon([(cx + x * s, p + y * s) for x, y in ((-0.28, -0.95), (-0.55, -1.2), (-0.62, -1.12), (-0.28, -0.7))],
                 fill=SKIN)
    draw.rectangle(box(-0.36, -0.62, 0.36, 0), fill=colour)
    draw.rectangle(box(-0.36, -0.62, 0.36, -0.55), fill=_mix(colour, (0, 0, 0), 0.4))


def _draw_prop(draw, subject: str, size: tuple[int, int]) -> list[int]:
    """Draw the subject of a detail insert as a large simple shape with its name under it."""
    w, p = size
    s = 0.36 * min(w, p)
    box = _scaled(w / 2, p / 2, s)
    words = set(re.findall(r"[a-z]+", subject.lower()))
    if words & {"key", "keys"}:
        draw.ellipse(box(-1.0, -0.4, -0.2, 0.4), fill=PROP)
        draw.ellipse(box(-0.75, -0.15, -0.45, 0.15), fill=_mix(PROP, (0, 0, 0), 0.45))
        draw.rectangle(box(-0.25, -0.09, 1.0, 0.09), fill=PROP)
        for k in range(3):
            draw.rectangle(box(0.45 + 0.18 * k, 0, 0.57 + 0.18 * k, 0.32), fill=PROP)
    elif words & _PAPER_WORDS:
        draw.rectangle(box(-0.75, -0.9, 0.75, 0.85), fill=PAPER)
        for k in range(7):
            draw.line(box(-0.55, -0.65 + k * 0.2, 0.55 if k % 3 else 0.2, -0.65 + k * 0.2),
                      fill=(120, 120, 140), width=max(1, round(s / 60)))
    else:
        draw.ellipse(box(-0.85, -0.85, 0.85, 0.85), fill=PROP)
        draw.ellipse(box(-0.5, -0.6, -0.15, -0.3), fill=_mix(PROP, (255, 255, 255), 0.5))
    font = max(8, round(p / 24))
    return _draw_label(draw, fit(subject, font, w - 12), (245, 245, 240), w / 2, p / 2 + 1.05 * s, size, font)


def _draw_detail(draw, job: RenderJob, size: tuple[int, int], colours: dict) -> dict:
    """Draw a detail insert: the named subject, else the first character's hand, else a plain prop."""
    if job.subject or not job.figures:
        return {"subject_label_box": _draw_prop(draw, job.subject or "detail", size)}
    figure = job.figures[0]
    _draw_hand(draw, size[0] * position_x(figure.position), size, colours[figure.name])
    return {"hand_of": figure.name}


def render_frame(job: RenderJob, seed: int) -> tuple[Image.Image, dict]:
    """Render one candidate of a job with the given seed; return the image and its layout facts.

    The picture fills the image: no frame number or caption is drawn, the sheet prints those.
    """
    shot = shot_by_slug(job.shot_type)
    w, p = job.width, job.height
    colours = figure_colours(job.figures)
    picture, horizon = paint_backdrop(job, w, p, random.Random(seed), {SKIN, *PALETTE, *colours.values()})
    draw = ImageDraw.Draw(picture)
    draw.fontmode = "1"  # no antialiasing, so label text keeps exact colours
    # an insert drawn at another size (a close-up of the notebook) still shows its object, not an empty sky
    draw_shot = _draw_detail if shot.slug == "detail" or (job.subject and not job.figures) else _draw_cast
    layout = draw_shot(draw, job, (w, p), colours)
    info = {"shot_type": shot.slug, "picture_height": p, "horizon_y": horizon,
            "figure_colours": {name: list(colour) for name, colour in colours.items()}}
    return picture, {**info, **layout}


class SketchRenderer:
    """Renderer that draws flat previz frames with Pillow: fast, deterministic and GPU-free."""

    name = "sketch"
    follows_prompt = False

    def render(self, job: RenderJob, on_progress: ProgressFn | None = None) -> RenderResult:
        """Draw one frame per candidate, candidate k with seed job.seeds()[k]."""
        seeds = job.seeds()
        images: list[Image.Image] = []
        info: dict[str, object] = {"shot_type": shot_by_slug(job.shot_type).slug,
                                   "picture_height": job.height}
        for k, seed in enumerate(seeds):
            image, info = render_frame(job, seed)
            images.append(image)
            if on_progress is not None:
                on_progress(k + 1, len(seeds))
        return RenderResult(images=images, seeds=seeds, renderer=self.name, info=info)

    def key_parts(self, job: RenderJob) -> dict:
        """Return what shapes a sketch: everything in the job but the diffusion-only settings."""
        parts = {f.name: getattr(job, f.name) for f in fields(job) if f.name not in _DIFFUSION_ONLY}
        # what asdict(job) gives, at a tenth the cost; a figure with no colour or label of its own keys as before
        parts["figures"] = [{k: v for k, v in asdict(figure).items() if k not in ("colour", "label") or v}
                            for figure in job.figures]
        return parts

    def facts(self, job: RenderJob) -> dict:
        """Return nothing beyond the renderer's name: a sketch has no model or adapters."""
        return {}
