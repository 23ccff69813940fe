#!/usr/bin/python3
"""Renders the chat-template parity cases exactly as transformers' apply_chat_template does, into Data/expected.json.

Run with Debian's Python, which has jinja2 (python3-jinja2):  /usr/bin/python3 make-expected.py
With --stdin it renders a JSON list of {"template", "variables"} from stdin instead and prints a JSON list of
{"output"} or {"error"}: what LiveJinja2ParityTests compares the C# renderer with.
The environment, filters and globals below are transformers' (_compile_jinja_template in utils/chat_template_utils.py):
an ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks and loopcontrols; its tojson (json.dumps with
ensure_ascii=False); raise_exception; strftime_now (here at a fixed time, 2026-01-02 03:04:05, as the C# tests inject
it). Variables: messages, tools (None when not given), documents (None), add_generation_prompt, the tokenizer's special
tokens that are set (special_tokens_map), then the case's extra variables.
"""
import datetime
import json
import os
import sys

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

HERE = os.path.dirname(os.path.abspath(__file__))
NOW = datetime.datetime(2026, 1, 2, 3, 4, 5)


def compile_template(source):
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(format):
        return NOW.strftime(format)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env.from_string(source)


def special_tokens(config):
    tokens = {}
    for name in ("bos_token", "eos_token", "unk_token", "pad_token"):
        value = config.get(name)
        if isinstance(value, dict):
            value = value.get("content")
        if value:
            tokens[name] = value
    return tokens


def main():
    with open(os.path.join(HERE, "Data", "conversations.json"), encoding="utf-8") as f:
        spec = json.load(f)
    results = []
    for case in spec["cases"]:
        name = case["template"]
        with open(os.path.join(HERE, "Data", name, "tokenizer_config.json"), encoding="utf-8") as f:
            config = json.load(f)
        template = compile_template(config["chat_template"])
        conversations = list(spec["conversations"]) if case["conversations"] == "*" else case["conversations"]
        for conversation in conversations:
            for generation_prompt in (True, False):
                tools = spec["tools"] if conversation in case.get("tools", []) else None
                variables = case.get("variables", {})
                kwargs = {**special_tokens(config), **variables}
                result = {"template": name, "conversation": conversation, "tools": tools is not None,
                          "add_generation_prompt": generation_prompt, "variables": variables}
                try:
                    result["output"] = template.render(messages=spec["conversations"][conversation], tools=tools, documents=None,
                                                       add_generation_prompt=generation_prompt, **kwargs)
                except Exception as e:  # raise_exception's TemplateError, or Python's own (a TypeError)
                    result["error"] = str(e)
                    result["raised_by_template"] = type(e) is jinja2.exceptions.TemplateError
                results.append(result)
    with open(os.path.join(HERE, "Data", "expected.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": f"make-expected.py, jinja2 {jinja2.__version__}", "results": results}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"{len(results)} renders, {sum('error' in r for r in results)} raised")


def render_stdin():
    results = []
    for case in json.load(sys.stdin):
        try:
            results.append({"output": compile_template(case["template"]).render(**case["variables"])})
        except Exception as e:
            results.append({"error": f"{type(e).__name__}: {e}"})
    json.dump(results, sys.stdout, ensure_ascii=False)


if __name__ == "__main__":
    render_stdin() if sys.argv[1:] == ["--stdin"] else main()
