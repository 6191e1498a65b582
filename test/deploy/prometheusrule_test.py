#!/usr/bin/python3
"""The PrometheusRule manifest carries exactly the rules of the plain rules file.

deploy/prometheus/kubernetes/*.prometheusrule.yaml is a PrometheusRule whose
`spec:` is the plain file's `groups:` indented by two spaces. Compared as
text, so no YAML library is needed: the manifest's spec, unindented, must be
the plain file from its `groups:` line on; promtool then checks that text as a
rules file, so a manifest edited alone fails here.

  prometheusrule_test.py --promtool PATH --rules PLAIN.yaml --prometheusrule MANIFEST.yaml
"""

import argparse
import difflib
import os
import subprocess
import sys
import tempfile


def groups_of_plain(text):
    start = text.find("\ngroups:\n")
    if start < 0:
        raise SystemExit("no top-level groups: in the rules file")
    return text[start + 1:]


def groups_of_manifest(text):
    lines = text.splitlines(True)
    try:
        spec = next(i for i, line in enumerate(lines) if line.rstrip("\n") == "spec:")
    except StopIteration:
        raise SystemExit("no top-level spec: in the PrometheusRule") from None
    out = []
    for line in lines[spec + 1:]:
        if not line.strip():
            out.append(line.lstrip(" "))
        elif line.startswith("  "):
            out.append(line[2:])
        else:
            raise SystemExit("a top-level key after spec: %r" % line)
    return "".join(out)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--promtool", required=True)
    parser.add_argument("--rules", required=True)
    parser.add_argument("--prometheusrule", required=True)
    args = parser.parse_args()
    with open(args.rules) as source:
        plain = groups_of_plain(source.read())
    with open(args.prometheusrule) as source:
        manifest_text = source.read()
    for needed in ("apiVersion: monitoring.coreos.com/v1\n", "kind: PrometheusRule\n"):
        if needed not in manifest_text:
            raise SystemExit("the manifest lacks %r" % needed.strip())
    wrapped = groups_of_manifest(manifest_text)
    if wrapped != plain:
        sys.stdout.writelines(difflib.unified_diff(plain.splitlines(True), wrapped.splitlines(True),
                                                   args.rules, args.prometheusrule + " (spec, unindented)"))
        raise SystemExit("the PrometheusRule's spec differs from the rules file")
    with tempfile.TemporaryDirectory(prefix="kubeai-prometheusrule-") as directory:
        extracted = os.path.join(directory, "spec.yaml")
        with open(extracted, "w") as out:
            out.write(wrapped)
        subprocess.run([args.promtool, "check", "rules", extracted], check=True)
    print("the PrometheusRule holds the rules of %s" % os.path.basename(args.rules))


if __name__ == "__main__":
    main()
