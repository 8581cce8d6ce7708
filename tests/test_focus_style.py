"""Issue 10 point 4: the focus indicator passes 3:1 (WCAG 1.4.11) on every
background the pages use: its black ring on light ones, its yellow halo on
the dark masthead (the old yellow outline was 1.6:1 on white)."""
import os
import re

CSS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'static', 'css', 'portal.css')


def luminance(hex_colour):
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a, b):
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_focus_ring_shows_on_every_background():
    css = open(CSS).read()
    rule = re.search(r'(?m)^:focus-visible \{([^}]*)\}', css).group(1)
    ring = re.search(r'outline: 3px solid (#[0-9a-f]{6})', rule).group(1)
    halo = re.search(r'box-shadow: 0 0 0 6px (#[0-9a-f]{6})', rule).group(1)
    backgrounds = set(re.findall(r'background(?:-color)?: (#[0-9a-f]{6})', css)) | {'#ffffff'}
    backgrounds |= {m for m in re.findall(r'--\w+: (#[0-9a-f]{6})', css)}
    for background in backgrounds:
        assert max(contrast(ring, background), contrast(halo, background)) >= 3, background
    assert contrast(ring, '#ffffff') >= 3 and contrast(halo, '#1d2d44') >= 3
