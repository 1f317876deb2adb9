"""Page checks every browser test can call: axe-core, horizontal scroll at phone width, tap target size.

Each helper takes a Playwright ``Page`` that has loaded the page to check, and fails with a message that names
the offending elements (a CSS path and a snippet of their HTML), so a failure says what to fix.

- ``assert_axe_clean(page)`` runs axe-core (v4.12, the ``axe.min.js`` bundled by the pinned
  ``axe-playwright-python`` package: nothing is fetched, it works offline) in the page and fails listing every
  violation with its nodes. ``exclude`` takes CSS selectors for regions that are not the project's own (a
  third-party widget); ``disable`` takes rule ids. Use both sparingly and say why at the call.
- ``assert_no_horizontal_scroll(page)`` resizes the viewport to 360 CSS px wide (the narrowest common phone),
  checks that the document is no wider than the viewport and lists the elements that stick out, then puts the
  viewport back as it was.
- ``assert_tap_targets(page, min_px=40)`` fails listing every visible link, button, input, select, textarea and
  summary smaller than ``min_px`` x ``min_px`` CSS px. A checkbox, radio button or file input counts with its
  label (clicking the label works the control), as WCAG 2.5.8 counts a target's whole clickable area.
  Visually hidden elements (a skip link clipped to 1 px until focused) are not targets until shown.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.resources import files
from typing import Any

from playwright.sync_api import Page

PHONE_WIDTH = 360


@cache
def axe_source() -> str:
    """The axe-core script (axe.min.js) shipped inside axe-playwright-python (pinned in requirements-dev.txt)."""
    return (files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


def axe_violations(
    page: Page, *, exclude: tuple[str, ...] | list[str] = (), disable: tuple[str, ...] | list[str] = ()
) -> list[dict[str, Any]]:
    """Run axe-core on the page's document and return its violations (axe's own result objects)."""
    if not page.evaluate("() => typeof window.axe === 'object' && typeof window.axe.run === 'function'"):
        # Evaluated through the DevTools protocol: a Content-Security-Policy does not block it.
        page.evaluate(axe_source())
    context: dict[str, Any] = {"include": [["html"]]}
    if exclude:
        context["exclude"] = [[selector] for selector in exclude]
    options: dict[str, Any] = {"resultTypes": ["violations"]}
    if disable:
        options["rules"] = {rule: {"enabled": False} for rule in disable}
    results = page.evaluate(
        "([context, options]) => window.axe.run(context, options).then(r => r.violations)", [context, options]
    )
    return list(results)


def format_violations(violations: list[dict[str, Any]]) -> str:
    """One paragraph per violated rule: id, impact, what it means, and each node's selector, HTML and fix."""
    lines: list[str] = []
    for violation in violations:
        lines.append(
            f"[{violation['id']}] ({violation.get('impact') or 'n/a'}) {violation['help']} -- {violation['helpUrl']}"
        )
        for node in violation["nodes"]:
            target = " ".join(json.dumps(part) if not isinstance(part, str) else part for part in node["target"])
            lines.append(f"    at {target}")
            lines.append(f"       {node['html'][:200]}")
            summary = (node.get("failureSummary") or "").strip().replace("\n", "\n         ")
            if summary:
                lines.append(f"         {summary}")
    return "\n".join(lines)


def assert_axe_clean(
    page: Page, *, exclude: tuple[str, ...] | list[str] = (), disable: tuple[str, ...] | list[str] = ()
) -> None:
    """Fail listing every axe-core violation on the page (with the nodes), if there is any."""
    violations = axe_violations(page, exclude=exclude, disable=disable)
    if violations:
        nodes = sum(len(violation["nodes"]) for violation in violations)
        raise AssertionError(
            f"axe-core found {len(violations)} violation(s) on {nodes} node(s) at {page.url}:\n"
            + format_violations(violations)
        )


# A short CSS path for an element, for failure messages: tag#id.class:nth-of-type up to an id or <body>.
_DESCRIBE_JS = """
() => { window.__thingsteadDescribe = (el) => {
  const parts = [];
  for (let node = el; node && node.nodeType === 1 && node !== document.body; node = node.parentElement) {
    let part = node.tagName.toLowerCase();
    if (node.id) { parts.unshift(part + '#' + CSS.escape(node.id)); break; }
    const classes = [...node.classList].slice(0, 2).map(c => '.' + CSS.escape(c)).join('');
    part += classes;
    const parent = node.parentElement;
    if (parent) {
      const same = [...parent.children].filter(c => c.tagName === node.tagName);
      if (same.length > 1) part += `:nth-of-type(${same.indexOf(node) + 1})`;
    }
    parts.unshift(part);
  }
  const html = el.outerHTML.replace(/\\s+/g, ' ');
  return parts.join(' > ') + '  ' + (html.length > 160 ? html.slice(0, 160) + '…' : html);
}; }
"""

_OVERFLOW_JS = """
() => {
  const width = document.documentElement.clientWidth;
  const scrollWidth = Math.max(document.documentElement.scrollWidth, document.body ? document.body.scrollWidth : 0);
  const offenders = [];
  for (const el of document.querySelectorAll('body *')) {
    const rect = el.getBoundingClientRect();
    if (rect.width === 0 && rect.height === 0) continue;
    if (rect.right > width + 0.5) {
      // Report the outermost offenders only: a child of an overflowing element is implied.
      let parent = el.parentElement, inside = false;
      while (parent && parent !== document.body) {
        if (parent.getBoundingClientRect().right > width + 0.5) { inside = true; break; }
        const style = getComputedStyle(parent);
        if (style.overflowX !== 'visible' && style.overflowX !== 'clip') { inside = true; break; }
        parent = parent.parentElement;
      }
      if (!inside) offenders.push(`${Math.round(rect.right)} px: ${window.__thingsteadDescribe(el)}`);
    }
  }
  return {width, scrollWidth, offenders: offenders.slice(0, 20)};
}
"""


def assert_no_horizontal_scroll(page: Page, width: int = PHONE_WIDTH) -> None:
    """Fail if the page scrolls sideways at ``width`` CSS px, listing the elements that reach past the edge."""
    before = page.viewport_size
    height = before["height"] if before else 740
    if before is None or before["width"] != width:
        page.set_viewport_size({"width": width, "height": height})
    try:
        page.evaluate(_DESCRIBE_JS)
        result = page.evaluate(_OVERFLOW_JS)
    finally:
        if before is not None and before["width"] != width:
            page.set_viewport_size(before)
    if result["scrollWidth"] > result["width"] or result["offenders"]:
        raise AssertionError(
            f"{page.url} is {result['scrollWidth']} px wide in a {result['width']} px viewport; "
            "elements reaching past the right edge:\n  " + "\n  ".join(result["offenders"] or ["(none found)"])
        )


_TAP_TARGETS_JS = """
(minPx) => {
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], [role=link]';
  const offenders = [];
  for (const el of document.querySelectorAll(selector)) {
    if (!el.checkVisibility({checkOpacity: true, checkVisibilityCSS: true})) continue;
    let rect = el.getBoundingClientRect();
    // Visually hidden until focused (a skip link): not a target while hidden.
    if (rect.width <= 2 || rect.height <= 2) continue;
    let left = rect.left, top = rect.top, right = rect.right, bottom = rect.bottom;
    if (el.tagName === 'INPUT' && ['checkbox', 'radio', 'file'].includes(el.type) && el.labels) {
      // The label works the control: the target is the control and its label(s) together.
      for (const label of el.labels) {
        const r = label.getBoundingClientRect();
        if (r.width === 0 || r.height === 0) continue;
        left = Math.min(left, r.left); top = Math.min(top, r.top);
        right = Math.max(right, r.right); bottom = Math.max(bottom, r.bottom);
      }
    }
    const width = right - left, height = bottom - top;
    if (width + 0.01 < minPx || height + 0.01 < minPx) {
      offenders.push(`${width.toFixed(1)}x${height.toFixed(1)}: ${window.__thingsteadDescribe(el)}`);
    }
  }
  return offenders;
}
"""


def tap_target_offenders(page: Page, min_px: int = 40) -> list[str]:
    """Each visible interactive element smaller than ``min_px`` x ``min_px`` CSS px, described."""
    page.evaluate(_DESCRIBE_JS)
    return list(page.evaluate(_TAP_TARGETS_JS, min_px))


def assert_tap_targets(page: Page, min_px: int = 40) -> None:
    """Fail listing every visible link/button/input on the page smaller than ``min_px`` x ``min_px`` CSS px."""
    offenders = tap_target_offenders(page, min_px)
    if offenders:
        raise AssertionError(
            f"{len(offenders)} tap target(s) under {min_px}x{min_px} CSS px at {page.url}:\n  " + "\n  ".join(offenders)
        )
