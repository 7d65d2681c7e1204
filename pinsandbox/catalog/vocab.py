"""Pinworld's vocabulary: styles, categories, how each style looks (palette, pattern, silhouette) and how it is
talked about (synonyms, shared adjectives, misleading words).

The style is deliberately only *partly* visible: each style prefers some palettes, one pattern and one
silhouette variant, but every pin has a fair chance of drawing from the common pool instead; and only some
titles name the style (through one of several synonyms), while some name the wrong one.
"""

STYLES = [
    "mid-century modern",
    "nantucket",
    "boho",
    "scandinavian",
    "industrial",
    "farmhouse",
    "art deco",
    "japandi",
]

# How people write a style: in titles, board names and Navigator requests. Several per style on purpose.
STYLE_SYNONYMS = {
    "mid-century modern": ["mid-century modern", "mid-century", "MCM", "retro 60s", "atomic age"],
    "nantucket": ["Nantucket", "coastal", "New England cottage", "beach house", "seaside"],
    "boho": ["boho", "bohemian", "eclectic", "free-spirited", "hippie chic"],
    "scandinavian": ["Scandinavian", "Scandi", "Nordic", "hygge", "Danish"],
    "industrial": ["industrial", "loft", "warehouse", "urban raw", "factory-style"],
    "farmhouse": ["farmhouse", "rustic", "country", "barn-style", "homestead"],
    "art deco": ["art deco", "deco", "Gatsby", "1920s glam", "jazz age"],
    "japandi": ["Japandi", "wabi-sabi", "zen", "Japanese minimalist", "calm minimal"],
}

CATEGORIES = ["chair", "sofa", "lamp", "rug", "vase", "dress", "mirror", "table", "pillow", "planter"]

CATEGORY_SYNONYMS = {
    "chair": ["chair", "armchair", "accent chair", "lounge chair"],
    "sofa": ["sofa", "couch", "loveseat", "settee"],
    "lamp": ["lamp", "table lamp", "floor lamp", "light"],
    "rug": ["rug", "area rug", "runner", "carpet"],
    "vase": ["vase", "vessel", "bud vase", "urn"],
    "dress": ["dress", "sundress", "maxi dress", "midi dress"],
    "mirror": ["mirror", "wall mirror", "looking glass", "vanity mirror"],
    "table": ["table", "coffee table", "side table", "dining table"],
    "pillow": ["pillow", "throw pillow", "cushion", "accent pillow"],
    "planter": ["planter", "plant pot", "pot", "jardiniere"],
}

CATEGORY_PLURAL = {
    "chair": "chairs", "sofa": "sofas", "lamp": "lamps", "rug": "rugs", "vase": "vases", "dress": "dresses",
    "mirror": "mirrors", "table": "tables", "pillow": "pillows", "planter": "planters",
}

# Typical price (USD) per category; a pin's price is lognormal around it.
CATEGORY_PRICE = {
    "chair": 220, "sofa": 900, "lamp": 90, "rug": 180, "vase": 40, "dress": 70, "mirror": 120,
    "table": 300, "pillow": 35, "planter": 45,
}

# Palettes: name -> (background, primary, secondary, accent) RGB.
PALETTES = {
    "walnut & mustard": ((245, 235, 215), (140, 90, 50), (215, 160, 40), (60, 110, 100)),
    "teak & olive": ((240, 232, 210), (160, 100, 55), (120, 125, 60), (200, 90, 50)),
    "navy & white": ((245, 248, 252), (30, 50, 95), (235, 238, 242), (190, 60, 60)),
    "sea glass": ((232, 243, 240), (120, 170, 175), (200, 220, 210), (60, 90, 120)),
    "terracotta": ((245, 228, 210), (190, 100, 60), (230, 180, 120), (110, 80, 60)),
    "jewel tones": ((240, 225, 230), (120, 30, 80), (30, 100, 90), (220, 160, 40)),
    "birch & linen": ((248, 246, 240), (220, 210, 190), (180, 170, 150), (90, 110, 120)),
    "pale grey": ((242, 242, 242), (190, 190, 190), (150, 160, 165), (80, 90, 100)),
    "steel & rust": ((225, 225, 225), (70, 75, 80), (160, 80, 40), (30, 30, 30)),
    "charcoal & brass": ((205, 205, 200), (50, 50, 55), (180, 150, 70), (120, 120, 120)),
    "barn red & cream": ((248, 242, 225), (150, 40, 35), (235, 225, 200), (90, 70, 50)),
    "sage & oak": ((240, 240, 228), (150, 170, 130), (190, 150, 100), (90, 80, 60)),
    "black & gold": ((25, 25, 30), (210, 175, 80), (240, 235, 220), (60, 90, 80)),
    "emerald & brass": ((230, 235, 225), (20, 100, 70), (190, 160, 70), (30, 30, 40)),
    "ink & clay": ((238, 232, 222), (40, 40, 45), (170, 130, 100), (110, 120, 100)),
    "stone & moss": ((228, 224, 214), (130, 125, 110), (100, 115, 80), (60, 60, 55)),
}

# Each style's preferred palettes, pattern and silhouette variant (what shows *partly* in the image).
STYLE_LOOK = {
    "mid-century modern": {"palettes": ["walnut & mustard", "teak & olive"], "pattern": "atomic", "variant": "tapered"},
    "nantucket": {"palettes": ["navy & white", "sea glass"], "pattern": "stripes", "variant": "rounded"},
    "boho": {"palettes": ["terracotta", "jewel tones"], "pattern": "fringe", "variant": "organic"},
    "scandinavian": {"palettes": ["birch & linen", "pale grey"], "pattern": "plain", "variant": "slim"},
    "industrial": {"palettes": ["steel & rust", "charcoal & brass"], "pattern": "grid", "variant": "boxy"},
    "farmhouse": {"palettes": ["barn red & cream", "sage & oak"], "pattern": "gingham", "variant": "chunky"},
    "art deco": {"palettes": ["black & gold", "emerald & brass"], "pattern": "fan", "variant": "stepped"},
    "japandi": {"palettes": ["ink & clay", "stone & moss"], "pattern": "waves", "variant": "low"},
}
PATTERNS = ["atomic", "stripes", "fringe", "plain", "grid", "gingham", "fan", "waves", "dots"]
VARIANTS = ["tapered", "rounded", "organic", "slim", "boxy", "chunky", "stepped", "low"]

# Words any style's title may use: they carry no style information by construction.
SHARED_ADJECTIVES = [
    "cozy", "modern", "classic", "elegant", "vintage-inspired", "handmade", "timeless", "statement", "simple",
    "beautiful", "stylish", "chic", "minimal", "warm", "bright", "soft", "bold", "lovely", "perfect", "favorite",
]
MATERIALS = ["wood", "linen", "cotton", "ceramic", "metal", "rattan", "velvet", "wool", "glass", "jute", "oak", "brass"]
ROOMS = ["living room", "bedroom", "entryway", "patio", "reading nook", "studio", "dining room", "office"]

TITLE_TEMPLATES = [
    "{adj} {cat}",
    "{adj} {material} {cat}",
    "the {adj} {cat} for your {room}",
    "{material} {cat}, {adj}",
    "{cat} ideas: {adj} and {adj2}",
    "{adj} {cat} I love",
]
STYLED_TITLE_TEMPLATES = [
    "{style} {cat}",
    "{adj} {style} {cat}",
    "{style}-inspired {material} {cat}",
    "{cat} with a {style} feel",
]
DESCRIPTION_TEMPLATES = [
    "",
    "Made of {material}. Perfect for the {room}.",
    "A {adj} piece that works in any {room}.",
    "{material}, {adj2} finish. Ships in 3 days.",
    "Saved for my {room} refresh.",
]

MERCHANTS = [
    "Hearth & Co", "Loom Street", "Oakline", "Tidewater Home", "Atelier Nord", "Rust Belt Goods", "Sunday Bazaar",
    "Maison Deco", "Kiln & Leaf", "Barnwood Supply", "Pacific Modern", "Cove Living",
]

# Board names: some name the style (through a synonym), most do not.
BOARD_TEMPLATES = [
    "{style} {cats}", "{style} vibes", "my {room}", "{cats}", "{room} ideas", "dream home", "{style} {room}",
    "want list", "home inspo",
]

# Navigator requests. Train and test use different templates so test phrasings are unseen.
NAVIGATOR_TEMPLATES_TRAIN = [
    "show me {style} {cats} under ${price}",
    "{style} {cat} less than ${price}",
    "looking for a {style} {cat}, budget ${price}",
    "I want {style}-style {cats} below ${price}",
    "find {cats} in a {style} look for under ${price}",
]
NAVIGATOR_TEMPLATES_TEST = [
    "any {style} {cats} that cost no more than ${price}?",
    "help me pick a {cat} with {style} style, max ${price}",
    "{cats}, {style} aesthetic, ${price} or less please",
]
