"""Asking an OpenAI-compatible chat model for JSON that fits a pydantic schema.

Works with the OpenAI API and with compatible servers (Ollama, vLLM, llama.cpp) through
OPENAI_BASE_URL. Structured output is requested with `chat.completions.parse`; a server that ignores
the schema still works when its reply carries the JSON somewhere in the text. A reply that cannot
be read is answered with the problem and asked again; one larger than MAX_REPLY_BYTES is refused at
once, unread. Timeouts, 429 and 5xx answers are retried by the client with growing waits.

    llm = LLM(LLMConfig.from_env())
    plan = llm.ask([{"role": "user", "content": "..."}], PlannedScene)
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ValidationError

from tools.errors import LLMError

T = TypeVar("T", bound=BaseModel)
DEFAULT_MODEL = "gpt-4o-mini"
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
MAX_REPLY_BYTES = 256 * 1024
"""The largest reply read; a plan is a few kB, so a far larger one comes from a runaway or hostile model."""


@dataclass(frozen=True)
class LLMConfig:
    """Where the model lives and how patiently to talk to it."""

    model: str = DEFAULT_MODEL
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 60.0
    """Seconds to wait for one reply."""
    retries: int = 3
    """Retries of timeouts, 429 and 5xx answers, with growing waits between them."""
    replies: int = 3
    """Replies read per question before giving up on unreadable JSON."""

    @classmethod
    def from_env(cls, model: str | None = None, table: dict | None = None) -> LLMConfig:
        """Read OPENAI_API_KEY, OPENAI_BASE_URL and SHOTSMITH_LLM_MODEL, then library.toml's `[llm]` table.

        `model` (the command line) wins over the variable, which wins over the table.
        """
        table = table or {}
        return cls(model=model or os.environ.get("SHOTSMITH_LLM_MODEL") or table.get("model") or DEFAULT_MODEL,
                   base_url=os.environ.get("OPENAI_BASE_URL") or table.get("base_url") or None,
                   api_key=os.environ.get("OPENAI_API_KEY") or None,
                   timeout=float(table.get("timeout", cls.timeout)))

    @property
    def configured(self) -> bool:
        """True when a key or a base URL says where a model can be asked."""
        return bool(self.api_key or self.base_url)

    @property
    def where(self) -> str:
        """The server, as messages name it (without any user:password part of the URL)."""
        if not self.base_url:
            return "the OpenAI API"
        parts = urlsplit(self.base_url)
        return urlunsplit(parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")))


def extract(text: str, schema: type[T]) -> T:
    """Return the schema's object from a reply's text: the whole text, a ```json block, or the outermost {...}."""
    candidates = [text.strip()] + [m.strip() for m in _FENCE.findall(text)]
    start, end = text.find("{"), text.rfind("}")
    if 0 <= start < end:
        candidates.append(text[start:end + 1])
    problem = "no JSON object found in the reply"
    for candidate in candidates:
        try:
            return schema.model_validate_json(candidate)
        except ValidationError as error:
            problem = _first_problem(error)
    raise ValueError(problem)


def _first_problem(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ())) or "the reply"
    return f"{where}: {first.get('msg', 'invalid')}"


class LLM:
    """One chat model, asked for schema-shaped JSON."""

    def __init__(self, config: LLMConfig, client: object | None = None):
        self.config = config
        self._client = client

    @property
    def client(self):
        if self._client is None:
            from openai import OpenAI

            self._client = OpenAI(base_url=self.config.base_url, api_key=self.config.api_key or "not-needed",
                                  timeout=self.config.timeout, max_retries=self.config.retries)
        return self._client

    def ask(self, messages: list[dict], schema: type[T]) -> T:
        """Return the model's answer as `schema`, asking again (with the problem) while it is unreadable.

        `messages` gains the model's replies and the follow-up questions, so a caller can keep the
        conversation going. Raises LLMError when the model cannot be reached, sends a reply larger than
        MAX_REPLY_BYTES, or never answers in shape.
        """
        problem = ""
        for _ in range(self.config.replies):
            content, parsed, problem = self._read(self._request(messages, schema), schema, problem)
            messages.append({"role": "assistant", "content": content or ""})
            if parsed is not None:
                return parsed
            messages.append({"role": "user", "content": f"That reply could not be read: {_line(problem)}. Answer "
                                                        "again with only the JSON object the schema describes."})
        raise self._error(f"never answered in the expected JSON shape after {self.config.replies} replies "
                          f"(last problem: {_line(problem)})")

    def _request(self, messages: list[dict], schema: type[T]):
        """Send the conversation once; return the raw response, refusing one larger than MAX_REPLY_BYTES."""
        import openai

        try:
            raw = self.client.chat.completions.with_raw_response.parse(
                model=self.config.model, response_format=schema,
                messages=[{key: _utf8(value) for key, value in m.items()} for m in messages])
        except openai.APIError as error:
            raise self._error(f"did not answer ({_api_problem(error)})") from None
        except openai.OpenAIError as error:
            raise self._error(f"gave no usable reply ({type(error).__name__})") from None
        size = len(raw.http_response.content)
        if size > MAX_REPLY_BYTES:  # refused before any parsing, and never sent back to the model
            raise self._error(f"gave no usable reply (the reply is {_size(size)}; expected at most "
                              f"{_size(MAX_REPLY_BYTES)} of JSON)")
        return raw

    def _read(self, raw: object, schema: type[T], problem: str) -> tuple[str | None, T | None, str]:
        """Return a reply's cleaned text, its object (None when unreadable) and the problem found (else `problem`)."""
        import openai

        content, parsed = None, None
        try:
            text = _content(raw)
            content = _utf8(text)
            parsed = raw.parse().choices[0].message.parsed
            if content != text:
                parsed = None  # read again below from the cleaned text
        except ValidationError as error:
            problem = _first_problem(error)
        except ValueError as error:  # JSON that does not decode, or an answer that is not a completion
            problem = str(error)
        except openai.OpenAIError as error:  # a reply cut off at the length limit, or filtered
            raise self._error(f"gave no usable reply ({type(error).__name__})") from None
        except (TypeError, AttributeError, KeyError, IndexError, RecursionError):  # odd shapes the client trips on
            problem = "the server's answer is not a chat completion"
        if parsed is None and content is not None:
            try:
                parsed = extract(content, schema)
            except ValueError as error:
                problem = str(error)
        return content, parsed, problem

    def _error(self, what: str) -> LLMError:
        return LLMError(f"the model at {self.config.where} {what}")


def _content(raw: object) -> str:
    """Return the text of the first choice of a raw chat-completions response."""
    try:
        message = raw.http_response.json()["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError, RecursionError):
        raise ValueError("the server's answer is not a chat completion") from None
    if not isinstance(message, dict):
        raise ValueError("the server's answer is not a chat completion")
    if message.get("refusal"):
        raise ValueError(f"the model refused: {_line(str(message['refusal']))}")
    content = message.get("content") or ""
    if not isinstance(content, str):
        raise ValueError(f"the reply's content is {type(content).__name__}, not text")
    return content


def _utf8(value: object) -> object:
    """Return a string with what UTF-8 cannot carry (lone surrogates) as "?"; other values as they are."""
    return value.encode("utf-8", "replace").decode("utf-8") if isinstance(value, str) else value


def _size(count: int) -> str:
    """Return a byte count as people read it: 900 bytes, 256 kB, 10.0 MB."""
    if count >= 1024 ** 2:
        return f"{count / 1024 ** 2:.1f} MB"
    return f"{count / 1024:.0f} kB" if count >= 1024 else f"{count} bytes"


def _line(text: str, limit: int = 200) -> str:
    """Return text as one short line, for messages that must stay on one line."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _api_problem(error: Exception) -> str:
    status = getattr(error, "status_code", None)
    text = _line(str(error)) or type(error).__name__
    return f"HTTP {status}: {text}" if status else text
