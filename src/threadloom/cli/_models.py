"""``--model``: the offline stand-in, or a real model from a LangChain integration."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass

from langchain_core.language_models import BaseChatModel

from threadloom.cli._errors import EXIT_USAGE, CliError
from threadloom.testing.models import OfflineChatModel

__all__ = ["OFFLINE", "PROVIDERS", "describe_model", "load_chat_model"]

OFFLINE = "offline"


@dataclass(frozen=True)
class _Provider:
    module: str
    cls: str
    package: str
    extra: str
    key_env: str


PROVIDERS: dict[str, _Provider] = {
    "anthropic": _Provider(
        "langchain_anthropic", "ChatAnthropic", "langchain-anthropic", "anthropic", "ANTHROPIC_API_KEY"
    ),
    "openai": _Provider(
        "langchain_openai", "ChatOpenAI", "langchain-openai", "openai", "OPENAI_API_KEY"
    ),
}


def _usage() -> str:
    return f"use --model {OFFLINE} (the default), " + " or ".join(
        f"--model {name}:<model name>" for name in PROVIDERS
    )


def load_chat_model(spec: str, env: Mapping[str, str]) -> BaseChatModel:
    """Build the chat model ``spec`` names; a :class:`CliError` says what is missing.

    ``offline`` is :class:`~threadloom.testing.models.OfflineChatModel`;
    ``anthropic:<name>`` and ``openai:<name>`` need their LangChain package and
    API key.
    """
    spec = spec.strip()
    if spec == OFFLINE:
        return OfflineChatModel()
    provider_name, sep, model_name = spec.partition(":")
    provider = PROVIDERS.get(provider_name.strip().lower())
    if provider is None:
        raise CliError(f"unknown model provider {provider_name!r} in --model {spec}; {_usage()}", code=EXIT_USAGE)
    model_name = model_name.strip()
    if not sep or not model_name:
        raise CliError(
            f"--model {spec} names no model; write {provider_name}:<model name>, "
            f"e.g. {provider_name}:{'claude-3-5-sonnet-20240620' if provider_name == 'anthropic' else 'gpt-4o-mini'}",
            code=EXIT_USAGE,
        )
    # find_spec checks the package is installed without paying for its import yet.
    if importlib.util.find_spec(provider.module) is None:
        raise CliError(
            f"--model {spec} needs the {provider.package} package, which is not installed; "
            f'install it with: pip install "threadloom[{provider.extra}]"'
        )
    if not env.get(provider.key_env):
        raise CliError(
            f"--model {spec} needs an API key: set the {provider.key_env} environment variable "
            f"(or use --model {OFFLINE}, which needs none)"
        )
    try:
        cls = getattr(importlib.import_module(provider.module), provider.cls)
        model: BaseChatModel = cls(model=model_name)
    except Exception as exc:  # an integration can fail in many ways; report it in one line
        raise CliError(f"cannot create the {provider_name} model {model_name!r}: {exc}") from exc
    return model


def describe_model(spec: str) -> str:
    """A short human description of ``spec`` for banners."""
    spec = spec.strip()
    if spec == OFFLINE:
        return "offline stand-in (not a real LLM; answers from stored memories)"
    return spec
