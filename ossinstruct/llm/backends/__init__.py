"""Teacher backends, one small module each, behind `ossinstruct.llm.backends.base.Backend`.

Modules are imported only when their backend is used: vLLM and torch are heavy and
absent where they are not needed.
"""

from __future__ import annotations

import importlib

from ossinstruct.llm.backends.base import Backend, Request, Response

BACKENDS = {
    "openai": "ossinstruct.llm.backends.openai_api:OpenAIBackend",
    "transformers": "ossinstruct.llm.backends.hf_transformers:TransformersBackend",
    "vllm": "ossinstruct.llm.backends.vllm_offline:VLLMBackend",
}


def get_backend(teacher: dict) -> Backend:
    try:
        target = BACKENDS[teacher["backend"]]
    except KeyError:
        raise ValueError(f"unknown teacher backend {teacher.get('backend')!r}; known: {', '.join(BACKENDS)}") from None
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(teacher)


__all__ = ["BACKENDS", "Backend", "Request", "Response", "get_backend"]
