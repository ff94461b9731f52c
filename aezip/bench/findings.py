"""Reading the benchmark's rows: plain English statements of where aezip wins and loses."""

import math

from ..zoo import DEFAULT_QUALITY


# ---------------------------------------------------------------------------
# Reading the rows: where aezip wins and where it loses


def _frontier(rows):
    """The rows not beaten by another (fewer bytes and at least as high PSNR), by size."""
    rows = sorted((r for r in rows if r.psnr is not None), key=lambda r: (r.bytes_per_image, -r.psnr))
    out, best = [], -math.inf
    for r in rows:
        if r.psnr > best:
            out.append(r)
            best = r.psnr
    return out


def _interp_psnr(front, bpi):
    """PSNR of a frontier at *bpi* bytes/image (linear in log bytes), or None outside its range."""
    pts = [(math.log(r.bytes_per_image), r.psnr) for r in front]
    x = math.log(bpi)
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x0 <= x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0) if x1 > x0 else max(y0, y1)
    if pts and abs(x - pts[0][0]) < 1e-12:
        return pts[0][1]
    return None


def _interp_bytes(front, target):
    """Bytes/image a frontier needs to reach *target* dB, or None if it never does / starts above."""
    pts = [(math.log(r.bytes_per_image), r.psnr) for r in front]
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if y0 <= target <= y1:
            return math.exp(x0 + (x1 - x0) * (target - y0) / (y1 - y0)) if y1 > y0 else math.exp(x0)
    return None


def _name(r):
    """'xz -9e (one stream)', 'JPEG q=5 (grayscale, optimized)': the setting before any parenthesis."""
    head, paren, tail = r.label.partition(" (")
    setting = "" if r.setting in head.split() else r.setting  # 'aezip lossless', not '... lossless lossless'
    return f"{head} {setting}".strip() + (f" ({tail}" if paren else "")


def _at(r):
    return f"{r.bytes_per_image:,.1f} B/image, {r.psnr:.2f} dB" if r.psnr is not None else \
        f"{r.bytes_per_image:,.1f} B/image, exact"


def _against_classical(az, best, hi, classical):
    """Statements on aezip against the classical lossy codecs' rows."""
    lines = []
    smallest = min(classical, key=lambda r: r.bytes_per_image)
    if smallest.bytes_per_image > hi.bytes_per_image:
        lines.append(f"Wins below {smallest.bytes_per_image:.0f} B/image: no classical lossy file is "
                     f"that small. The smallest is {_name(smallest)} at {_at(smallest)}, "
                     f"{smallest.bytes_per_image / hi.bytes_per_image:.0f}x aezip's largest setting.")
    beats = [r for r in classical if r.psnr > best.psnr]
    if beats:
        over = min(beats, key=lambda r: r.bytes_per_image)
        lines.append(f"Loses above that: the best classical lossy codec overtakes aezip at "
                     f"{over.bytes_per_image:.1f} B/image / {over.psnr:.2f} dB ({_name(over)}), "
                     f"{over.psnr - best.psnr:+.2f} dB over aezip's best "
                     f"({best.setting}, {_at(best)}) for {over.bytes_per_image / best.bytes_per_image:.1f}x "
                     f"the bytes.")
    dominated = [(a, [r for r in classical if r.bytes_per_image <= a.bytes_per_image and r.psnr >= a.psnr])
                 for a in az]
    hit = [(a, min(d, key=lambda r: r.bytes_per_image)) for a, d in dominated if d]
    for a, r in hit:
        lines.append(f"Loses outright: {_name(r)} ({_at(r)}) is no larger and no worse than "
                     f"aezip {a.setting} ({_at(a)}).")
    return lines


def _against_pca(az, best, pca, fit):
    """Statements on aezip against PCA's frontier *pca*, setting by setting."""
    lines = [f"Against the linear autoencoder (PCA + zstd, fitted on {fit}), at equal "
             "size (PCA interpolated between its settings, linear in log bytes):"]
    for a in az:
        p = _interp_psnr(pca, a.bytes_per_image)
        need = _interp_bytes(pca, a.psnr)
        if p is None:
            verdict = f"PCA has no setting this small (its smallest: {_at(pca[0])})"
        else:
            verdict = f"PCA {p:.2f} dB, aezip {'wins' if a.psnr > p else 'loses'} by {abs(a.psnr - p):.2f} dB"
        if need is not None:
            verdict += f"; PCA needs {need:.1f} B/image ({need / a.bytes_per_image:.2f}x) for aezip's PSNR"
        lines.append(f"  - aezip {a.setting} ({_at(a)}): {verdict}.")
    over = [r for r in pca if r.psnr > best.psnr]
    if over:
        r = over[0]
        lines.append(f"PCA overtakes aezip's best PSNR at {r.bytes_per_image:.1f} B/image / {r.psnr:.2f} dB "
                     f"({r.setting}); above that size the linear baseline is the better lossy choice here.")
    else:
        lines.append(f"PCA stays below aezip's best PSNR up to {pca[-1].bytes_per_image:.1f} B/image "
                     f"({pca[-1].setting}, {pca[-1].psnr:.2f} dB).")
    return lines


def summary_lines(report):
    """Plain statements, computed from the rows, of where aezip wins and where it loses."""
    az = sorted(report.by_family("aezip"), key=lambda r: r.bytes_per_image)
    if not az:
        return ["aezip was not measured in this run (--only)."]
    lines = []
    lo, hi = az[0], az[-1]
    best = max(az, key=lambda r: r.psnr if r.psnr is not None else math.inf)
    default = next((r for r in az if r.setting == f"q{DEFAULT_QUALITY}"), az[len(az) // 2])
    lines.append(f"aezip spans {lo.bytes_per_image:.2f} to {hi.bytes_per_image:.2f} B/image "
                 f"({lo.ratio_raw:,.0f}x to {hi.ratio_raw:,.0f}x smaller than raw pixels) at "
                 f"{min(r.psnr for r in az if r.psnr is not None):.2f} to {best.psnr:.2f} dB; "
                 f"its PSNR stops rising at {best.psnr:.2f} dB ({best.setting}): no setting does better.")
    lossless = sorted(report.by_family("lossless"), key=lambda r: r.bytes_per_image)
    if lossless:
        s = lossless[0]
        lines.append(f"Wins on size: the default {default.setting} ({default.bytes_per_image:.2f} B/image) is "
                     f"{default.ratio_gzip:.0f}x smaller than gzip -9 of the whole set "
                     f"({report.gzip_bytes_per_image:.1f} B/image) and "
                     f"{s.bytes_per_image / default.bytes_per_image:.0f}x smaller than the best lossless "
                     f"codec here, {_name(s)} ({s.bytes_per_image:.1f} B/image). "
                     f"Loses on fidelity: those are exact, aezip is not.")
    classical = [r for r in report.by_family("lossy") if r.psnr is not None]
    if classical:
        lines += _against_classical(az, best, hi, classical)
    pca = _frontier(report.by_family("pca"))
    if pca:
        lines += _against_pca(az, best, pca, report.pca_fit)
    firsts = {}
    for r in report.rows:
        if r.family != "aezip":
            firsts.setdefault(r.codec, r)
    if firsts:
        lines.append(f"Speed (images/s, encode / decode, this machine as loaded during the run): aezip "
                     f"{default.setting} {default.encode_ips:,.0f} / {default.decode_ips:,.0f}; "
                     + "; ".join(f"{_name(r)} {r.encode_ips:,.0f} / {r.decode_ips:,.0f}" for r in firsts.values())
                     + ".")
    return lines


def ood_lines(report, ood):
    """Statements on aezip's quality on non-digit sets {kind: Report}, against the digits."""

    digits = {r.setting: r for r in report.by_family("aezip")}
    lines = []
    for kind, rep in ood.items():
        az = {r.setting: r for r in rep.by_family("aezip")}
        d = az.get(f"q{DEFAULT_QUALITY}") or next(iter(az.values()), None)
        if d is None:
            continue
        best = max(az.values(), key=lambda r: r.psnr if r.psnr is not None else math.inf)
        ref = digits.get(d.setting)
        text = (f"{kind.capitalize()} ({rep.count} images): aezip {d.setting} gives a poor {d.psnr:.2f} dB"
                + (f" ({d.psnr - ref.psnr:+.2f} dB against the {ref.psnr:.2f} dB it gives on {report.source})"
                   if ref and ref.psnr is not None else "")
                + f" and at best {best.psnr:.2f} dB ({best.setting}), SSIM {best.ssim:.3f}")
        others = [r for r in rep.rows if r.family in ("lossy", "pca") and r.psnr is not None]
        if others:
            near = min(others, key=lambda r: abs(math.log(r.bytes_per_image / d.bytes_per_image)))
            top = min(rep.rows, key=lambda r: r.bytes_per_image if r.family == "lossless" else math.inf)
            text += (f"; {_name(near)} gives {near.psnr:.2f} dB at {near.bytes_per_image:.1f} B/image"
                     + (f", and {_name(top)} stores them exactly at {top.bytes_per_image:.1f} B/image"
                        if top.family == "lossless" else ""))
        lines.append(text + ".")
    return lines




# ---------------------------------------------------------------------------
# Output


def bullets(lines):
    """Markdown list items; lines that start with '  - ' are already nested items."""
    return [line if line.startswith("  - ") else f"- {line}" for line in lines]
