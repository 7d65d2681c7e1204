"""Pin images drawn with Pillow from a pin's attributes: palette (colours), pattern (background texture) and a
category silhouette in one of the style variants (tapered legs, rounded arms, stepped outlines…).

Images are written one at a time as they are drawn (`render_pin_images`), so a large catalog never holds
its images in memory. The same attributes always give the same PNG bytes.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from pinsandbox.catalog.vocab import PALETTES


def _pattern(d: ImageDraw.ImageDraw, s: int, pattern: str, color, bg) -> None:
    step = max(6, s // 8)
    if pattern == "stripes":
        for x in range(0, s, step * 2):
            d.rectangle([x, 0, x + step - 1, s], fill=color)
    elif pattern == "grid":
        for x in range(0, s, step):
            d.line([x, 0, x, s], fill=color, width=1)
            d.line([0, x, s, x], fill=color, width=1)
    elif pattern == "gingham":
        for x in range(0, s, step * 2):
            d.rectangle([x, 0, x + step - 1, s], fill=color)
            d.rectangle([0, x, s, x + step - 1], fill=color)
    elif pattern == "dots":
        for y in range(step // 2, s, step):
            for x in range(step // 2, s, step):
                d.ellipse([x - 2, y - 2, x + 2, y + 2], fill=color)
    elif pattern == "atomic":
        for y in range(step, s, step * 2):
            for x in range(step, s, step * 2):
                d.line([x - 4, y, x + 4, y], fill=color, width=1)
                d.line([x, y - 4, x, y + 4], fill=color, width=1)
                d.ellipse([x - 2, y - 2, x + 2, y + 2], outline=color)
    elif pattern == "fringe":
        for y in range(step, s, step * 2):
            for x in range(0, s, 4):
                d.line([x, y, x + 2, y + step // 2], fill=color, width=1)
    elif pattern == "fan":
        for x in range(0, s + step, step * 2):
            for r in range(step, step * 3, 4):
                d.arc([x - r, s - r, x + r, s + r], 180, 360, fill=color)
    elif pattern == "waves":
        for y in range(step, s, step):
            for x in range(0, s, step):
                d.arc([x, y - step // 3, x + step, y + step // 3], 0, 180, fill=color)
    # "plain": background only


def _legs(d, x0, x1, y0, y1, variant, color, w):
    if variant == "tapered":
        d.line([x0, y0, x0 - 4, y1], fill=color, width=w)
        d.line([x1, y0, x1 + 4, y1], fill=color, width=w)
    elif variant in ("chunky", "boxy"):
        d.rectangle([x0 - w, y0, x0 + w, y1], fill=color)
        d.rectangle([x1 - w, y0, x1 + w, y1], fill=color)
    elif variant == "low":
        d.rectangle([x0 - 1, y0, x0 + 1, y0 + (y1 - y0) // 3], fill=color)
        d.rectangle([x1 - 1, y0, x1 + 1, y0 + (y1 - y0) // 3], fill=color)
    else:
        d.line([x0, y0, x0, y1], fill=color, width=max(1, w // 2))
        d.line([x1, y0, x1, y1], fill=color, width=max(1, w // 2))


def _box(d, box, variant, fill, outline=None):
    if variant in ("rounded", "organic"):
        d.rounded_rectangle(box, radius=max(2, (box[3] - box[1]) // 3), fill=fill, outline=outline)
    elif variant == "stepped":
        x0, y0, x1, y1 = box
        h = (y1 - y0) // 3
        d.rectangle([x0, y0 + h, x1, y1], fill=fill, outline=outline)
        d.rectangle([x0 + (x1 - x0) // 6, y0, x1 - (x1 - x0) // 6, y0 + h], fill=fill, outline=outline)
    else:
        d.rectangle(box, fill=fill, outline=outline)


def _silhouette(d, s, category, variant, primary, secondary, accent, dx, dy):
    c = s // 2 + dx
    b = int(s * 0.85) + dy
    w = max(2, s // 40)
    u = s / 128.0  # drawing unit: everything scales with the image

    def px(v):
        return int(v * u)

    if category == "chair":
        _box(d, [c - px(26), b - px(70), c + px(26), b - px(40)], variant, primary)
        _box(d, [c - px(30), b - px(42), c + px(30), b - px(30)], variant, secondary, outline=primary)
        _legs(d, c - px(24), c + px(24), b - px(30), b, variant, accent, w)
    elif category == "sofa":
        _box(d, [c - px(50), b - px(60), c + px(50), b - px(30)], variant, primary)
        _box(d, [c - px(56), b - px(40), c - px(40), b - px(14)], variant, secondary, outline=primary)
        _box(d, [c + px(40), b - px(40), c + px(56), b - px(14)], variant, secondary, outline=primary)
        d.rectangle([c - px(40), b - px(32), c + px(40), b - px(14)], fill=secondary)
        _legs(d, c - px(44), c + px(44), b - px(14), b, variant, accent, w)
    elif category == "lamp":
        if variant in ("rounded", "organic"):
            d.ellipse([c - px(26), b - px(100), c + px(26), b - px(60)], fill=primary)
        else:
            d.polygon([(c - px(14), b - px(100)), (c + px(14), b - px(100)), (c + px(30), b - px(62)), (c - px(30), b - px(62))], fill=primary)
        d.line([c, b - px(62), c, b - px(8)], fill=accent, width=w + 1)
        _box(d, [c - px(20), b - px(10), c + px(20), b], variant, secondary, outline=accent)
    elif category == "rug":
        _box(d, [c - px(52), b - px(64), c + px(52), b - px(4)], variant, primary, outline=accent)
        d.rectangle([c - px(38), b - px(52), c + px(38), b - px(16)], outline=secondary, width=w)
        d.ellipse([c - px(10), b - px(44), c + px(10), b - px(24)], fill=accent)
    elif category == "vase":
        if variant in ("slim", "tapered"):
            d.polygon([(c - px(10), b - px(90)), (c + px(10), b - px(90)), (c + px(22), b), (c - px(22), b)], fill=primary)
        elif variant == "stepped":
            for i, h in enumerate((30, 22, 14)):
                d.rectangle([c - px(h), b - px(30 * (i + 1)), c + px(h), b - px(30 * i)], fill=primary, outline=accent)
        else:
            d.ellipse([c - px(32), b - px(70), c + px(32), b], fill=primary)
            d.rectangle([c - px(10), b - px(92), c + px(10), b - px(62)], fill=primary)
        d.line([c - px(20), b - px(40), c + px(20), b - px(40)], fill=secondary, width=w)
    elif category == "dress":
        d.polygon([(c - px(14), b - px(100)), (c + px(14), b - px(100)), (c + px(18), b - px(64)), (c - px(18), b - px(64))], fill=primary)
        flare = {"organic": 46, "rounded": 40, "slim": 22, "tapered": 30}.get(variant, 34)
        d.polygon([(c - px(18), b - px(64)), (c + px(18), b - px(64)), (c + px(flare), b), (c - px(flare), b)], fill=primary)
        d.line([c - px(18), b - px(64), c + px(18), b - px(64)], fill=accent, width=w + 1)
        d.line([c - px(flare) + 2, b - px(10), c + px(flare) - 2, b - px(10)], fill=secondary, width=w)
    elif category == "mirror":
        if variant in ("rounded", "organic", "low"):
            d.ellipse([c - px(34), b - px(100), c + px(34), b - px(4)], fill=accent)
            d.ellipse([c - px(28), b - px(94), c + px(28), b - px(10)], fill=secondary)
        else:
            _box(d, [c - px(34), b - px(100), c + px(34), b - px(4)], variant, accent)
            d.rectangle([c - px(28), b - px(94), c + px(28), b - px(10)], fill=secondary)
        d.line([c - px(14), b - px(80), c + px(6), b - px(60)], fill=primary, width=w)
    elif category == "table":
        _box(d, [c - px(54), b - px(56), c + px(54), b - px(46)], variant, primary)
        _legs(d, c - px(44), c + px(44), b - px(46), b, variant, accent, w + 1)
        d.ellipse([c - px(8), b - px(72), c + px(8), b - px(56)], fill=secondary)
    elif category == "pillow":
        _box(d, [c - px(42), b - px(76), c + px(42), b - px(10)], variant, primary, outline=accent)
        d.line([c - px(42), b - px(43), c + px(42), b - px(43)], fill=secondary, width=w)
        d.line([c, b - px(76), c, b - px(10)], fill=secondary, width=w)
    else:  # planter
        if variant in ("rounded", "organic"):
            d.chord([c - px(34), b - px(70), c + px(34), b], 0, 180, fill=primary)
        else:
            d.polygon([(c - px(34), b - px(40)), (c + px(34), b - px(40)), (c + px(24), b), (c - px(24), b)], fill=primary)
        for i in range(-2, 3):
            d.ellipse([c + px(12 * i) - px(8), b - px(80) + px(abs(i) * 8), c + px(12 * i) + px(8), b - px(44)], fill=accent)


def render_pin(size: int, category: str, palette: str, pattern: str, variant: str, dx: int = 0, dy: int = 0) -> Image.Image:
    """Draw one pin image (RGB, size×size). `dx`/`dy` shift the object so same-attribute pins still differ."""
    bg, primary, secondary, accent = PALETTES[palette]
    img = Image.new("RGB", (size, size), bg)
    d = ImageDraw.Draw(img)
    tint = tuple((a + 2 * b) // 3 for a, b in zip(secondary, bg, strict=True))  # faint pattern colour
    _pattern(d, size, pattern, tint, bg)
    _silhouette(d, size, category, variant, primary, secondary, accent, dx, dy)
    return img


def render_pin_images(images_dir: Path, pins, size: int, progress: bool = True) -> None:
    """Write `<pin_id>.png` for every row of `pins` (columns: pin_id, category, palette, pattern, variant, dx, dy)."""
    from tqdm.auto import tqdm

    images_dir.mkdir(parents=True, exist_ok=True)
    rows = zip(pins["pin_id"], pins["category"], pins["palette"], pins["pattern"], pins["variant"], pins["dx"], pins["dy"], strict=True)
    for pin_id, category, palette, pattern, variant, dx, dy in tqdm(rows, total=len(pins), desc="rendering pins", disable=not progress):
        render_pin(size, category, palette, pattern, variant, int(dx), int(dy)).save(images_dir / f"{pin_id}.png", compress_level=1)
