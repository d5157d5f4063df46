"""The result card shared by Generate, Edit and Style transfer: player, waveform, spectrogram, summary, recipe,
download, and the payload that "send to" and "reuse settings" read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.audio.summary import summary_line
from evals.report.pictures import spectrogram_png, waveform_png
from workbench.core.audio_io import Audio
from workbench.engine.engine import RunResult
from workbench.records import RecordedTake
from workbench.ui.context import TabContext, take_payload


@dataclass
class ResultCard:
    group: Any
    title: Any
    audio: Any
    wave: Any
    spec: Any
    summary: Any
    recipe: Any
    download: Any
    payload: Any  # gr.State: take_payload(...)
    reuse: Any | None = None
    to_edit: Any | None = None
    to_style: Any | None = None

    @property
    def outputs(self) -> list[Any]:
        return [
            self.group,
            self.title,
            self.audio,
            self.wave,
            self.spec,
            self.summary,
            self.recipe,
            self.download,
            self.payload,
        ]

    def hidden(self) -> list[Any]:
        import gradio as gr

        return [gr.Group(visible=False), "", None, None, None, "", "", None, None]


def result_card(ctx: TabContext, prefix: str, index: int, *, buttons: bool = True) -> ResultCard:
    import gradio as gr

    with gr.Group(visible=False, elem_id=f"{prefix}-take-{index}") as group:
        title = gr.Markdown(elem_id=f"{prefix}-title-{index}")
        audio = gr.Audio(
            type="filepath", interactive=False, show_label=False, elem_id=f"{prefix}-audio-{index}"
        )
        with gr.Row():
            wave = gr.Image(label="Waveform", interactive=False, type="filepath", height=130, buttons=[])
            spec = gr.Image(label="Spectrogram", interactive=False, type="filepath", height=130, buttons=[])
        summary = gr.Markdown(elem_id=f"{prefix}-summary-{index}")
        with gr.Accordion("Recipe (resolved request, model, LoRA, versions)", open=False):
            recipe = gr.Code(language="json", interactive=False)
        download = gr.File(label="Download", interactive=False, elem_id=f"{prefix}-download-{index}")
        payload = gr.State(None)
        card = ResultCard(group, title, audio, wave, spec, summary, recipe, download, payload)
        if buttons:
            with gr.Row():
                card.reuse = gr.Button("Reuse settings", size="sm", elem_id=f"{prefix}-reuse-{index}")
                card.to_edit = gr.Button("Send to Edit", size="sm", elem_id=f"{prefix}-to-edit-{index}")
                card.to_style = gr.Button(
                    "Send to Style transfer", size="sm", elem_id=f"{prefix}-to-style-{index}"
                )
            ctx.send.sender(card.to_edit, payload, "edit")
            ctx.send.sender(card.to_style, payload, "style")
    return card


def card_values(
    ctx: TabContext,
    result: RunResult,
    recorded: RecordedTake,
    *,
    label: str = "",
    target_lufs: float | None = None,
    region_s: tuple[float, float] | None = None,
    extra_summary: str = "",
) -> list[Any]:
    import gradio as gr

    folder = ctx.temp_dir / "images"
    request = result.request
    take = recorded.take
    recipe = Path(recorded.sidecar).read_text()
    summary = summary_line(take.audio, bpm=request.bpm, keyscale=request.keyscale, target_lufs=target_lufs)
    if extra_summary:
        summary += f"  \n{extra_summary}"
    title = f"**{label or f'Take {take.index + 1}'}** · seed {take.seed} · run `{recorded.run_id}`"
    return [
        gr.Group(visible=True),
        title,
        recorded.path,
        waveform_png(take.audio, folder, region_s=region_s),
        spectrogram_png(take.audio, folder),
        summary,
        recipe,
        recorded.path,
        take_payload(recorded.run_id, recorded.path, request.to_dict(), take.seed),
    ]


def audio_preview(ctx: TabContext, audio: Audio, region_s: tuple[float, float] | None = None) -> str:
    return waveform_png(audio, ctx.temp_dir / "images", region_s=region_s)


@dataclass
class SourcePicker:
    audio: Any  # upload / player
    run_id: Any  # Textbox: the recorded run the audio came from ("" for uploads)

    @property
    def inputs(self) -> list[Any]:
        return [self.audio, self.run_id]

    def receive(self, payload: dict[str, Any]) -> list[Any]:
        return [payload.get("path"), payload.get("run_id") or ""]


def source_picker(prefix: str, label: str = "Source audio") -> SourcePicker:
    """An upload box plus the run id of a result sent here; uploading a new file clears the run id."""
    import gradio as gr

    audio = gr.Audio(type="filepath", sources=["upload"], label=label, elem_id=f"{prefix}-source")
    run_id = gr.Textbox(
        label="Run id (from Generate or History; empty for uploads)", elem_id=f"{prefix}-run-id"
    )

    guard_upload(audio, run_id)  # a new upload also clears the run id of a result sent here before
    return SourcePicker(audio, run_id)


def guard_upload(audio: Any, run_id: Any = None) -> None:
    """Check an audio upload box's file when it arrives: an unusable one is removed with a warning naming it."""
    import gradio as gr

    def uploaded(path: str | None) -> Any:
        problem = upload_problem(path)
        if problem:
            gr.Warning(problem, duration=None)  # stays until closed: the box is cleared, the reason must show
        kept = None if problem else gr.skip()
        return kept if run_id is None else [kept, ""]

    outputs = audio if run_id is None else [audio, run_id]
    audio.upload(uploaded, audio, outputs, api_visibility="private")


def upload_problem(path: str | None) -> str | None:
    """Why an uploaded file cannot be used, named by its file name (never the server's upload folder), or None.

    Checked when the file arrives, so a text file renamed .wav is refused at once rather than at Run."""
    from workbench.core import audio_io
    from workbench.core.errors import AudioInputError

    if not path:
        return None
    try:
        audio_io.read_audio(path)
    except AudioInputError as exc:
        return f"{Path(path).name}: {exc.fix}"
    return None
