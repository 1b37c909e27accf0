"""Show a session's events in the terminal: a progress bar while frames render, messages as lines."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from agent.session import Event
from graphs import events as news


class Report:
    """Counts what a run did, for the closing summary."""

    def __init__(self) -> None:
        self.rendered = 0
        self.reused = 0
        self.errors: list[str] = []
        self.questions: list[str] = []


def show(events: Iterable[Event], console: Console, errors: Console, report: Report) -> None:
    """Consume events, drawing progress on `console` and problems on `errors`."""
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as progress:
        bar = Bar(progress)
        for event in events:
            if isinstance(event, (news.Progress, news.FrameDrawn)):
                bar.advance(event, report)
            else:
                say(event, console, errors, report)


class Bar:
    """The rendering bar, added when the first frame starts."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def advance(self, event: news.Progress | news.FrameDrawn, report: Report) -> None:
        """Move the bar on a denoising step or a finished frame, counting the frame as rendered or reused."""
        if self.task is None:
            self.task = self.progress.add_task("rendering", total=event.frames)
        match event:
            case news.Progress(frame=frame, step=step, steps=steps):
                self.progress.update(self.task, description=f"frame {frame} · step {step}/{steps}")
            case news.FrameDrawn(frame=frame, status=status):
                report.rendered += status == "rendered"
                report.reused += status == "reused"
                self.progress.update(self.task, completed=frame + 1, description=f"frame {frame}")


def say(event: Event, console: Console, errors: Console, report: Report) -> None:
    """Print one event that is not rendering progress as a line, noting questions and errors in `report`."""
    line = {"markup": False, "highlight": False, "soft_wrap": True}
    match event:
        case news.Planned(frames=frames, planner=planner):
            console.print(f"planned {frames} frames with the {planner} planner", markup=False)
        case news.Retrying():
            console.print(retry_line(event), **line)
        case news.Queued(ahead=ahead):
            console.print(f"waiting for the GPU: {ahead} ahead", markup=False, highlight=False)
        case news.Notice(message=message):
            console.print(f"notice: {message}", **line)
        case news.Critiqued(summary=summary) if summary:  # no scorer ran: nothing to say, not an empty line
            console.print(summary, **line)
        case news.Reply(message=message):
            console.print(message, **line)
        case news.Question(message=message):
            report.questions.append(message)
            console.print(f"question: {message}", **line)
        case news.Problem(message=message):
            report.errors.append(message)
            errors.print(f"error: {message}", **line)


def retry_line(event: news.Retrying) -> str:
    """Say why the critic sent a frame back and how it is drawn again."""
    why = (f"best CLIP score {event.score:.1f} is below {event.threshold:g}" if event.reason == "score"
           else "no candidate reads as the planned shot type")
    shot = f", shot LoRA +{event.shot_boost:g}" if event.shot_boost else ""
    return f"frame {event.frame}: {why}; retry {event.attempt} of {event.retries} with fresh seeds{shot}"
