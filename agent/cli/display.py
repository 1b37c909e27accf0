"""Show a session's events in the terminal: a progress bar while frames render, messages as lines."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agent.session import Event


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
        task = None
        for event in events:
            kind = event.get("type")
            if kind == "plan":
                console.print(f"planned {event['frames']} frames with the {event['planner']} planner", markup=False)
            elif kind == "progress":
                if task is None:
                    task = progress.add_task("rendering", total=event["frames"])
                progress.update(task, description=f"frame {event['frame']} · step {event['step']}/{event['steps']}")
            elif kind == "frame":
                report.rendered += event["status"] == "rendered"
                report.reused += event["status"] == "reused"
                if task is None:
                    task = progress.add_task("rendering", total=event["frames"])
                progress.update(task, completed=event["frame"] + 1, description=f"frame {event['frame']}")
            elif kind == "retry":
                why = (f"best CLIP score {event['score']:.1f} is below {event['threshold']:g}"
                       if event["reason"] == "score" else "no candidate reads as the planned shot type")
                shot = f", shot LoRA +{event['shot_boost']:g}" if event["shot_boost"] else ""
                console.print(f"frame {event['frame']}: {why}; retry {event['attempt']} of {event['retries']} "
                              f"with fresh seeds{shot}", markup=False, highlight=False, soft_wrap=True)
            elif kind == "queue":
                console.print(f"waiting for the GPU: {event['ahead']} ahead", markup=False, highlight=False)
            elif kind == "notice":
                console.print(f"notice: {event['message']}", markup=False, highlight=False, soft_wrap=True)
            elif kind == "critique":
                console.print(event["summary"], markup=False, highlight=False, soft_wrap=True)
            elif kind == "message":
                console.print(event["message"], markup=False, highlight=False, soft_wrap=True)
            elif kind == "question":
                report.questions.append(event["message"])
                console.print(f"question: {event['message']}", markup=False, highlight=False, soft_wrap=True)
            elif kind == "error":
                report.errors.append(event["message"])
                errors.print(f"error: {event['message']}", markup=False, highlight=False, soft_wrap=True)
