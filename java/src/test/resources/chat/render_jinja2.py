"""Renders chat templates with Python's jinja2 exactly as transformers' apply_chat_template sets
it up (transformers/utils/chat_template_utils.py: _compile_jinja_template, render_jinja_template):
an ImmutableSandboxedEnvironment with trim_blocks, lstrip_blocks and loop controls, json.dumps as
tojson, raise_exception and strftime_now as globals. stdin: {"template": str, "cases": [vars]},
or {"templates": [str], "vars": vars}; stdout: a JSON list, per case (or template) the rendered
text or {"error": message}."""
import json
import sys
from datetime import datetime

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(format):
    return datetime.now().strftime(format)


env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
env.filters["tojson"] = tojson
env.globals["raise_exception"] = raise_exception
env.globals["strftime_now"] = strftime_now



def render(source, variables):
    try:
        return env.from_string(source).render(**variables)
    except Exception as e:  # the Java side compares the failure, not its type
        return {"error": str(e)}


request = json.load(sys.stdin)
if "templates" in request:
    out = [render(t, request["vars"]) for t in request["templates"]]
else:
    out = [render(request["template"], case) for case in request["cases"]]
json.dump(out, sys.stdout, ensure_ascii=False)
