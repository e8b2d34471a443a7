"""The Monitoring tab: how recent traffic compares with the training data, feature by feature."""

from __future__ import annotations

from typing import Any

import gradio as gr
import pandas as pd

from .drift import PREDICTION, DriftReport
from .predictor import Predictor


def monitoring_tab(predictor: Predictor, tab: gr.Tab) -> None:
    monitor = predictor.monitor
    gr.Markdown(
        "How recent traffic compares with the training data, feature by feature: the population stability index "
        "(PSI) is below 0.1 when stable, 0.1–0.25 worth watching, above 0.25 drift. Also at `GET /api/v1/drift` "
        "and, for Prometheus, `GET /metrics`."
    )
    summary = gr.Markdown(elem_id="drift-summary")
    table = gr.Dataframe(label="Drift by feature (worst first)", interactive=False, elem_id="drift-table")
    with gr.Row():
        names = [PREDICTION, *(feature.name for feature in predictor.served.schema.by_importance())]
        choice = gr.Dropdown(names, value=PREDICTION, label="Compare live with training for", scale=3)
        refresh = gr.Button("Refresh", scale=1)
    plot = gr.LinePlot(x="bin", y="share", color="source", label="Share of rows per bin", elem_id="drift-plot")

    def distribution(feature: str) -> gr.LinePlot:
        bins = monitor.drift.distribution(feature)
        frame = pd.DataFrame(
            [
                {"bin": b.label, "share": share, "source": source}
                for b in bins
                for source, share in (("training", b.training), ("live", b.live))
            ]
        )
        return gr.LinePlot(value=frame, sort=[b.label for b in bins], title=feature, x_label_angle=-30)

    def update(feature: str) -> tuple[str, Any, gr.LinePlot]:
        report = monitor.drift_report()
        return _drift_summary(report), _drift_table(report), distribution(feature)

    outputs = [summary, table, plot]
    tab.select(update, inputs=choice, outputs=outputs, api_visibility="private")
    refresh.click(update, inputs=choice, outputs=outputs, api_visibility="private")
    choice.change(distribution, inputs=choice, outputs=plot, api_visibility="private")


_LEVEL_COLOURS = {"stable": "#d9f2d9", "watch": "#fff1c2", "drift": "#f9c7c7", "collecting": "#eeeeee"}


def _drift_summary(report: DriftReport) -> str:
    counts = {name: sum(item.level == name for item in report.features) for name in ("drift", "watch", "stable")}
    text = (
        f"**{report.window_rows:,}** rows in the window (the most recent {report.window_size:,} predicted rows). "
        f"Drift: **{counts['drift']}** · watch: **{counts['watch']}** · stable: **{counts['stable']}**."
    )
    if not report.enough:
        text += f"\n\nFewer than {report.min_rows} rows so far: the figures are noise until more traffic arrives."
    return text


def _drift_table(report: DriftReport) -> Any:
    frame = pd.DataFrame(
        [{"feature": item.feature, "PSI": f"{item.psi:.3f}", "level": item.level} for item in report.features],
        columns=["feature", "PSI", "level"],
    )
    return frame.style.apply(lambda row: [f"background-color: {_LEVEL_COLOURS[row['level']]}"] * len(row), axis=1)
