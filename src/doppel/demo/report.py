"""report.html: one static page (no server, no network, no scripts) with its media beside it,
written from the demo's stage results."""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from doppel.demo.svg import Band, Series, line_chart

Data = dict[str, Any]

# (key, name, better, what it means) for the quality table, in the order shown.
METRICS = (
    ("source_top1", "source found first", "higher",
     "share of frames where a face recogniser (dlib) picks the source among 6 identities"),
    ("to_source", "identity distance to the source", "lower",
     "dlib embedding distance of the output face to the source's mean face"),
    ("to_target", "identity distance to the target", "higher",
     "how far the output is from the person it replaced"),
    ("ssim", "masked SSIM vs truth", "higher",
     "structural similarity to the ideal swap, inside the face"),
    ("psnr_db", "masked PSNR vs truth (dB)", "higher", "pixel error inside the face"),
    ("nme_expression_all", "expression error (NME)", "lower",
     "how the face's landmarks move, against the truth's: does it follow the target's "
     "expression (face shape taken out)"),
    ("nme_all", "landmark error (NME)", "lower",
     "landmark positions against the truth's, face shape included (the truth is the "
     "source's whole head, whose size differs from the target's)"),
    ("yaw_error", "head-turn error (degrees)", "lower", "pose error against the truth"),
    ("flicker_ratio", "flicker ratio", "nearer 1",
     "frame-to-frame change inside the face, divided by the truth's (1: as steady as real)"),
    ("coverage", "frames with a face found", "higher",
     "share of output frames where the face detector still finds a face"),
)

# What each stage does, as the commands a user would type.
COMMANDS = {
    "actors": "doppel synth --actors 2 --size 256 -o actors/",
    "collect": "doppel extract actors/actor-N.mp4 -o faceset-source/ --size 128",
    "train": "doppel train --source faceset-source/ --target faceset-target/ -o model/ "
             "--minutes 10",
    "swap": "doppel swap actors/actor-M.mp4 --model model/ -o swapped.mp4",
    "labels": "doppel verify swapped.mp4",
    "detect": "doppel detect swapped.mp4 -o detect-swapped/ --frames 25",
    "measure": "doppel bench quality --swapper classic",
}

CSS = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 0; color: #222; background: #fafafa; }
main { max-width: 1080px; margin: 0 auto; padding: 16px 24px 48px; }
h1 { font-size: 26px; margin: 8px 0 4px; } h2 { font-size: 20px; margin: 32px 0 8px; }
.lead { font-size: 16px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr));
         gap: 12px; margin: 16px 0; }
.card { background: #fff; border: 1px solid #ddd; border-radius: 8px; padding: 10px 14px; }
.card b { display: block; font-size: 20px; }
.columns { display: grid; grid-template-columns: repeat(4, 1fr); text-align: center;
           font-weight: 600; }
video, img.wide { width: 100%; height: auto; border-radius: 4px; background: #000; }
table { border-collapse: collapse; background: #fff; margin: 8px 0; }
th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
td.win { background: #e3f4e3; font-weight: 600; }
.small { font-size: 13px; color: #555; }
.chart { width: 100%; max-width: 640px; background: #fff; border: 1px solid #ddd;
         font-size: 11px; }
.chart .note { fill: #8a6d1c; }
.previews { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr));
            gap: 8px; }
.previews figure, figure { margin: 0; } figcaption { font-size: 13px; color: #555; }
.previews img { width: 100%; border: 1px solid #ddd; }
.ok { color: #176117; font-weight: 600; } .warn { color: #8a4b00; font-weight: 600; }
code { background: #eee; padding: 0 3px; border-radius: 3px; }
"""


def write_report(path: Path, data: Data) -> Path:
    from doppel.files import atomic_path

    with atomic_path(path) as temp:
        temp.write_text(render(data), encoding="utf-8")
    return path


def render(data: Data) -> str:
    sections = [_summary(data), _video(data), _quality(data), _training(data),
                _provenance(data), _detection(data), _times(data), _limits()]
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<title>doppel demo report</title><style>" + CSS + "</style></head><body><main>"
            + "\n".join(sections) + "</main></body></html>\n")


def _summary(data: Data) -> str:
    actors, train, measured = data["actors"], data["train"], data["measure"]["scores"]
    detect, labels = data["detect"], data["labels"]
    source, target = actors["source"], actors["target"]
    faces = data["collect"]
    model, classic = measured["doppel"], measured["classic"]
    swapped = detect["swapped"]
    wrong = ", a false positive" if detect["original"]["verdict"] == "swapped" else ""
    return f"""<h1>doppel demo: a face swap, labelled, verified and detected</h1>
<p class="lead">doppel rendered two people who do not exist — the <b>source</b> (actor
{source['seed']}, the face to insert) and the <b>target</b> (actor {target['seed']}, the
performer) — collected {faces['source']['faces']} and {faces['target']['faces']} of their faces,
trained its <code>tiny</code> model for {train['minutes']:g} minutes ({train['steps']} steps on
this machine), and replaced the target's face in a {target['seconds']:g}-second clip with the
source's. Every picture it made carries an invisible watermark and a visible label, the swap
carries a signed manifest with both actors' consent records, and the detector then judged it.
Because the actors are synthetic, the ideal result is known exactly: the source rendered with
the target's performance ("ground truth"), which every score below is measured against.</p>
<p class="lead"><b>Result:</b> {_outcome(model, classic, train['minutes'])}</p>
<div class="cards">
<div class="card">identity: source found first<b>{_pct(model['source_top1'])}</b>
<span class="small">of frames (classic swap: {_pct(classic['source_top1'])})</span></div>
<div class="card">similarity to the truth (SSIM)<b>{model['ssim']:.3f}</b>
<span class="small">classic swap: {classic['ssim']:.3f}</span></div>
<div class="card">provenance of swapped.mp4<b>{escape(labels['swapped']['verdict'])}</b>
<span class="small">manifest {_manifest_state(labels['swapped'])}, watermark
{'found' if labels['swapped']['watermark']['found'] else 'not found'}</span></div>
<div class="card">forensic detector on the swap<b>{escape(swapped['verdict'])}</b>
<span class="small">probability swapped {_num(swapped['score'], 2)}; on the original:
{_num(detect['original']['score'], 2)} ({escape(detect['original']['verdict'])}{wrong})</span></div>
</div>"""


def _outcome(model: Data, classic: Data, minutes: float) -> str:
    """The quality table in one sentence, from the numbers."""
    identity = ("carries the source's identity better than" if model["source_top1"] >
                classic["source_top1"] else "carries the source's identity less well than"
                if model["source_top1"] < classic["source_top1"] else
                "carries the source's identity as well as")
    truth = "closer to" if model["ssim"] > classic["ssim"] else "further from"
    return (f"after {minutes:g} minutes of training, doppel's swap {identity} the classic "
            f"landmark swap (the source is recognised in {_pct(model['source_top1'])} of its "
            f"frames against {_pct(classic['source_top1'])}) and is {truth} the ground truth "
            f"(SSIM {model['ssim']:.3f} against {classic['ssim']:.3f}). How these scores "
            "move with training time is measured in BENCHMARKS.md (Training quality).")


def _video(data: Data) -> str:
    measured = data["measure"]
    columns = "".join(f"<div>{escape(name)}</div>" for name in measured["columns"])
    return f"""<h2>The swap</h2>
<div class="columns">{columns}</div>
<video src="{escape(measured['video'])}" controls loop muted autoplay playsinline></video>
<p class="small">{escape(measured['video'])}: VP9 WebM copy for browsers (Debian's Chromium
plays no H.264). The labelled and signed original is <a href="swapped.mp4">swapped.mp4</a>
(<code>doppel verify swapped.mp4</code>); the target's clip is
<a href="{escape(data['actors']['target']['clip'])}">{escape(data['actors']['target']['clip'])}</a>.
The classic swap is the landmark-warp baseline (<code>doppel bench quality --swapper
classic</code>), given one frontal photo of the source.</p>
<figure><img class="wide" src="{escape(measured['stills'])}" alt="side-by-side frames">
<figcaption>Two frames side by side, in the same order ({escape(measured['stills'])},
watermarked and signed).</figcaption></figure>"""


def _quality(data: Data) -> str:
    scores = data["measure"]["scores"]
    rows = []
    for key, name, better, meaning in METRICS:
        model, classic = scores["doppel"].get(key), scores["classic"].get(key)
        win = _winner(model, classic, better)
        rows.append(f"<tr><td>{escape(name)}</td>"
                    f"<td class=\"num{' win' if win == 'doppel' else ''}\">{_num(model, 3)}</td>"
                    f"<td class=\"num{' win' if win == 'classic' else ''}\">{_num(classic, 3)}"
                    f"</td><td>{better}</td><td class=\"small\">{escape(meaning)}</td></tr>")
    frames = data["actors"]["target"]["frames"]
    return f"""<h2>How good is it? Scores against the ground truth</h2>
<table id="metrics"><tr><th>measure</th><th>doppel (tiny, {data['train']['minutes']:g} min)</th>
<th>classic swap</th><th>better</th><th>what it means</th></tr>
{''.join(rows)}</table>
<p class="small">Medians over the clip's {frames} frames (flicker and coverage: whole clip),
scored as <code>doppel bench quality</code> scores; the better of the two is shaded. doppel's
scores are of swapped.mp4 as written (encoded, labelled). A tiny model trained for minutes on a
CPU draws a soft 64-pixel face; longer training and larger presets do better
(BENCHMARKS.md).</p>"""


def _training(data: Data) -> str:
    train = data["train"]
    curve = train["curve"]
    chart = line_chart(
        [Series("source", "#1f5fbf", [(row[1] / 60, row[2]) for row in curve]),
         Series("target", "#c0392b", [(row[1] / 60, row[3]) for row in curve])],
        "minutes", "loss (masked SSIM + L1)", title="training loss")
    previews = "".join(
        f'<figure><a href="{escape(p)}"><img src="{escape(p)}" alt="preview">'
        f'</a><figcaption>step {int(Path(p).stem.split("-")[-1])}</figcaption></figure>'
        for p in train["previews"])
    loss = ", ".join(f"{side} {value:.4f}" for side, value in train["loss"].items())
    return f"""<h2>Training</h2>
<p><code>doppel train</code> (DF architecture, <code>tiny</code> preset: 64 px, 2.15 M
parameters): {train['steps']} steps in {train['seconds'] / 60:.1f} min,
{train['images_per_second']:.0f} images/s, final loss {loss}; stopped by
{escape(train['stopped_by'])}.</p>
{chart}
<p>Preview timelapse (the same faces all run long; rows: source → source, target → target,
target → source, each input beside the network's output), animated and then step by step:</p>
<figure><img class="wide" src="{escape(train['timelapse'])}" alt="training timelapse">
<figcaption>{escape(train['timelapse'])}: one frame per preview, {len(train['previews'])} in
all.</figcaption></figure>
<div class="previews">{previews}</div>"""


def _provenance(data: Data) -> str:
    labels = data["labels"]
    swapped, screenshot = labels["swapped"], labels["screenshot"]
    manifest, mark = swapped["manifest"], swapped["watermark"]
    consents = "".join(f"<li>{escape(role)}: {escape(c['kind'])} — {escape(c['subject'])} "
                       f"(<code>{escape(c['id'][:16])}</code>)</li>"
                       for role in ("source", "target")
                       for c in data["collect"][role]["consents"])
    recovered = screenshot.get("recovered_from")
    return f"""<h2 id="provenance">Provenance: how the swap is labelled</h2>
<table><tr><th>swapped.mp4</th><td><span class="ok">{escape(swapped['verdict'])}</span></td></tr>
<tr><th>C2PA manifest</th><td>{_manifest_state(swapped)}; kind
{escape(str(manifest['kind']))}, digital source type
<code>{escape(str(manifest['digital_source_type']))}</code>, actions
{escape(', '.join(manifest['actions']))}; signer {escape(str(manifest['signer']))}</td></tr>
<tr><th>watermark</th><td>{'found' if mark['found'] else 'not found'}, id
<code>{escape(str(mark['payload']))}</code> (the manifest names
<code>{escape(str(manifest['watermark_id']))}</code>), confidence {mark['confidence']:.3f},
{mark['frames_checked']} frames read</td></tr>
<tr><th>model</th><td><code>{escape(str(manifest['model_id']))}</code></td></tr>
<tr><th>consent records</th><td><ul>{consents}</ul></td></tr>
<tr><th>visible label</th><td>"AI-generated", bottom right of every frame</td></tr>
<tr><th>a screenshot</th><td>frame re-saved as JPEG (<a href="{escape(labels['screenshot_path'])}">
{escape(labels['screenshot_path'])}</a>), which drops the manifest:
<b>{escape(screenshot['verdict'])}</b>; the local ledger finds
{escape(recovered) if recovered else 'nothing'} by its watermark.</td></tr></table>
<p class="small">The manifest is signed with this machine's local key, which no one else trusts
until told to: <code>doppel verify swapped.mp4 --trust ~/.config/doppel/keys/local-ca.pem</code>.
No option turns the watermark or the manifest off.</p>"""


def _detection(data: Data) -> str:
    detect = data["detect"]
    swapped, original = detect["swapped"], detect["original"]
    low, high = swapped["inconclusive"]
    chart = line_chart(
        [Series("swapped.mp4", "#c0392b", [(f, s) for f, s in swapped["frame_scores"]]),
         Series("original clip", "#1f5fbf", [(f, s) for f, s in original["frame_scores"]])],
        "frame", "probability swapped", y_range=(0.0, 1.0),
        bands=(Band(low, high, "inconclusive"),), title="detector scores per frame")
    rows = "".join(
        f"<tr><td><a href=\"{escape(d['file'])}\">{escape(d['file'])}</a></td>"
        f"<td>{escape(d['provenance'])}</td><td>{escape(d['verdict'])}</td>"
        f"<td class=\"num\">{_num(d['score'], 3)}</td><td class=\"num\">{d['faces']}</td></tr>"
        for d in (swapped, original))
    heatmap = (f'<figure><img src="{escape(swapped["heatmap"])}" alt="detector heatmap" '
               f'style="max-width:360px"><figcaption>The pixels the detector\'s verdict rests on '
               f'most (red), on the most suspicious face of the swap.</figcaption></figure>') if swapped["heatmap"] else ""
    caveat = "" if "may differ" in swapped["trained_on"] else \
        ". Real-world footage may differ"
    caveat += ". Its accuracy on real faces is not measured here."
    if original["verdict"] == "swapped":
        caveat += (" On this clip it is wrong about the original, which was never swapped: a "
                   "false positive. On actors it never saw, it still flags some unswapped "
                   "clips (BENCHMARKS.md, Detect); the provenance check above is the reliable "
                   "answer for files doppel made.")
    return f"""<h2 id="detection">Detection</h2>
<p><code>doppel detect</code> reads the provenance first, then scores every face with a
forensic CNN that sees the pixels only (as if the labels had been stripped).</p>
<table id="detector"><tr><th>file</th><th>provenance</th><th>forensic verdict</th>
<th>probability swapped</th><th>faces scored</th></tr>{rows}</table>
{chart}
{heatmap}
<p class="small">Threshold {swapped['threshold']}; between {low} and {high} the verdict is
"inconclusive". The detector was trained on {escape(swapped['trained_on'])}{caveat}</p>"""


def _times(data: Data) -> str:
    rows = "".join(f"<tr><td>{escape(t['title'].split(':')[0])}</td>"
                   f"<td class=\"num\">{t['seconds']:.0f} s</td>"
                   f"<td>{'reused from an earlier run' if t['reused'] else 'this run'}</td>"
                   f"<td><code>{escape(COMMANDS.get(t['name'], ''))}</code></td></tr>"
                   for t in data["times"])
    return f"""<h2>Time taken</h2>
<table><tr><th>stage</th><th>time</th><th>run</th><th>the same by hand</th></tr>{rows}
<tr><th>this run, in all</th><td class="num">{data['wall_seconds']:.0f} s</td><td></td>
<td></td></tr></table>
<p class="small">On this machine's CPU. Rerun <code>doppel demo -o DIR</code> to reuse the
finished stages, <code>--fresh</code> to redo them, <code>--minutes N</code> to train longer.</p>"""


def _limits() -> str:
    return """<h2>What this demo does not show</h2>
<ul class="small">
<li>Real people: the actors are synthetic, so the truth is known. doppel works on real footage
(a consent record is required for every faceset); the scores above are for these actors.</li>
<li>Quality at its best: the tiny model is made for minutes on a CPU. Its open bars (beating the
classic swap on identity after 15 minutes, 25 fps at 720p, the detector's accuracy on unseen
actors) are in BENCHMARKS.md.</li>
</ul>"""


def _winner(model: float | None, classic: float | None, better: str) -> str | None:
    if model is None or classic is None or model != model or classic != classic:
        return None
    if better == "nearer 1":
        model, classic = -abs(model - 1), -abs(classic - 1)
        better = "higher"
    if model == classic:
        return None
    return "doppel" if (model > classic) == (better == "higher") else "classic"


def _manifest_state(report: Data) -> str:
    manifest = report["manifest"]
    if not manifest["present"]:
        return "absent"
    state = "valid" if manifest["valid"] else "invalid"
    return f"{state}, {'trusted' if manifest['trusted'] else 'signed by an untrusted key'}"


def _pct(value: float | None) -> str:
    return "–" if value is None or value != value else f"{value:.0%}"


def _num(value: float | None, digits: int) -> str:
    return "–" if value is None or value != value else f"{value:.{digits}f}"
