#!/usr/bin/python3
"""The Dockerfile, checked without docker (none on these machines).

  StagesTest      two stages on Debian 12: the build stage runs
                  scripts/install-deps and builds Release; the runtime stage
                  installs no -dev package or toolchain, runs as 65532, ships
                  the plugins at /etc/kubeai-scaler/plugins and has the binary
                  as its ENTRYPOINT
  LibrariesTest   every library the built binary and plugins load (`ldd`)
                  comes from a package the runtime stage installs, from one
                  of their dependencies (apt-cache depends --recurse), or from
                  the base image; each directly needed library (DT_NEEDED) from
                  a package the runtime stage names or the base image
  IgnoreTest      .dockerignore keeps build trees and .git out of the context

The packages are looked up in this machine's dpkg database, which is Debian
12's, as the image's is.

  dockerfile_test.py --source-dir REPO --binary PATH [--plugin PATH]... [unittest args]
"""

import argparse
import os
import re
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True

ARGS = None
# In debian:12-slim already (apt itself needs them); everything else must come
# from the runtime stage's packages.
BASE_IMAGE = {"libc6", "libgcc-s1", "libstdc++6"}


def read(path):
    with open(os.path.join(ARGS.source_dir, path), encoding="utf-8") as f:
        return f.read()


def instructions():
    """(instruction, argument) pairs, continuation lines joined, comments dropped."""
    lines = [line for line in read("Dockerfile").splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    out = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), " ".join(rest.split())))
    return out


def stages():
    found = []
    for word, rest in instructions():
        if word == "FROM":
            found.append([(word, rest)])
        elif found:
            found[-1].append((word, rest))
    return found


def installed_by(stage):
    packages = []
    for word, rest in stage:
        if word == "RUN":
            for command in re.split(r"&&|;", rest):
                words = command.split()
                if words[:2] == ["apt-get", "install"]:
                    packages += [w for w in words[2:] if not w.startswith("-")]
    return packages


_OWNERS = {}


def owners(paths):
    """Fill _OWNERS for paths with one `dpkg -S` (slow per call) for all of them."""
    candidates = set()
    for path in paths:
        for p in (path, os.path.realpath(path)):
            # usrmerge: dpkg may know /lib/... where ldd says /usr/lib/..., or the reverse.
            candidates |= {p, p[4:] if p.startswith("/usr/") else "/usr" + p}
    candidates -= set(_OWNERS)
    if not candidates:
        return
    done = subprocess.run(["dpkg", "-S"] + sorted(candidates), capture_output=True, text=True)
    for candidate in candidates:
        _OWNERS[candidate] = None  # unless dpkg names its package below
    for line in done.stdout.splitlines():
        package, _, owned = line.rpartition(": ")
        _OWNERS[owned] = package.split(",")[0].split(":")[0].strip()


def package_of(path):
    for p in (path, os.path.realpath(path)):
        for candidate in (p, p[4:] if p.startswith("/usr/") else "/usr" + p):
            owners([candidate])
            if _OWNERS[candidate]:
                return _OWNERS[candidate]
    raise AssertionError(f"no package owns {path}")


# The sanitizer build (scripts/test --sanitize) links these runtimes; the image
# is built in Release, which never does.
SANITIZER_RUNTIME = re.compile(r"^lib(a|ub|t|l|hwa)san\.so")


def ldd(path):
    """{soname: resolved path} of everything the dynamic loader loads for path, sanitizer runtimes left out."""
    done = subprocess.run(["ldd", path], capture_output=True, text=True, check=True)
    libraries = {}
    for line in done.stdout.splitlines():
        match = re.match(r"\s*(\S+) => (\S+)", line)
        if match:
            if match.group(2) == "not":
                raise AssertionError(f"{path}: {line.strip()}")
            if not SANITIZER_RUNTIME.match(match.group(1)):
                libraries[match.group(1)] = match.group(2)
        else:
            match = re.match(r"\s*(/\S+) \(", line)  # the loader itself
            if match:
                libraries[os.path.basename(match.group(1))] = match.group(1)
    return libraries


def needed(path):
    done = subprocess.run(["objdump", "-p", path], capture_output=True, text=True, check=True)
    return [soname for soname in re.findall(r"^\s*NEEDED\s+(\S+)", done.stdout, re.MULTILINE)
            if not SANITIZER_RUNTIME.match(soname)]


def dependency_closure(packages):
    done = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests", "--no-conflicts",
                           "--no-breaks", "--no-replaces", "--no-enhances", "--no-pre-depends"] + list(packages),
                          capture_output=True, text=True, check=True)
    closure = {line.strip() for line in done.stdout.splitlines() if line and not line.startswith(" ")}
    pre = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends", "--no-suggests"] + list(packages),
                         capture_output=True, text=True, check=True)
    closure |= {line.strip() for line in pre.stdout.splitlines() if line and not line.startswith(" ")}
    return {p.split(":")[0] for p in closure if not p.startswith("<")}


_CLOSURE = None


def closure_of_runtime():
    global _CLOSURE
    if _CLOSURE is None:
        _CLOSURE = dependency_closure(installed_by(stages()[1]))
    return _CLOSURE


def binaries():
    return [ARGS.binary] + (ARGS.plugin or [])


class StagesTest(unittest.TestCase):
    def test_two_debian_12_stages(self):
        s = stages()
        self.assertEqual(len(s), 2)
        self.assertRegex(s[0][0][1], r"^debian:12(\.\d+)? AS build$")
        self.assertRegex(s[1][0][1], r"^debian:12(\.\d+)?(-slim)? AS runtime$")

    def test_build_stage(self):
        runs = " ".join(rest for word, rest in stages()[0] if word == "RUN")
        self.assertIn("scripts/install-deps", runs)
        self.assertIn("-DCMAKE_BUILD_TYPE=Release", runs)
        self.assertIn("-DKUBEAI_BUILD_TESTS=OFF", runs)

    def test_runtime_stage_has_no_build_tools(self):
        packages = installed_by(stages()[1])
        self.assertTrue(packages)
        for package in packages:
            self.assertFalse(package.endswith("-dev"), package)
            self.assertNotIn(package, {"build-essential", "cmake", "g++", "gcc", "make", "git", "pkg-config"})
        self.assertIn("ca-certificates", packages)
        self.assertIn("--no-install-recommends", " ".join(rest for word, rest in stages()[1] if word == "RUN"))

    def test_runtime_user_plugins_entrypoint(self):
        runtime = stages()[1]
        users = [rest for word, rest in runtime if word == "USER"]
        self.assertEqual(users, ["65532:65532"])
        self.assertIn("useradd --uid 65532 --gid 65532", " ".join(rest for word, rest in runtime if word == "RUN"))
        copies = [rest for word, rest in runtime if word == "COPY"]
        self.assertIn("--from=build /install/plugins/ /etc/kubeai-scaler/plugins/", copies)
        self.assertIn("--from=build /install/bin/kubeai-scaler /usr/local/bin/kubeai-scaler", copies)
        (entrypoint,) = [rest for word, rest in runtime if word == "ENTRYPOINT"]
        self.assertEqual(entrypoint, '["/usr/local/bin/kubeai-scaler"]')
        # The deployment's init container copies the plugins with the image's shell.
        with open(os.path.join(ARGS.source_dir, "deploy/deployment.yaml"), encoding="utf-8") as f:
            self.assertIn("cp /etc/kubeai-scaler/plugins/*.so /plugins/", f.read())


class LibrariesTest(unittest.TestCase):
    def test_direct_dependencies_are_named(self):
        named = set(installed_by(stages()[1])) | BASE_IMAGE
        owners([path for binary in binaries() for path in ldd(binary).values()])
        for binary in binaries():
            libraries = ldd(binary)
            for soname in needed(binary):
                with self.subTest(binary=os.path.basename(binary), library=soname):
                    self.assertIn(soname, libraries)
                    self.assertIn(package_of(libraries[soname]), named,
                                  f"add the package of {soname} to the Dockerfile's runtime stage")

    def test_every_loaded_library_is_installed(self):
        available = closure_of_runtime() | BASE_IMAGE
        owners([path for binary in binaries() for path in ldd(binary).values()])
        for binary in binaries():
            for soname, path in ldd(binary).items():
                with self.subTest(binary=os.path.basename(binary), library=soname):
                    self.assertIn(package_of(path), available)

    def test_plugins_given(self):
        self.assertGreaterEqual(len(ARGS.plugin or []), 1)


class IgnoreTest(unittest.TestCase):
    def test_build_trees_ignored(self):
        patterns = [line.strip() for line in read(".dockerignore").splitlines()
                    if line.strip() and not line.startswith("#")]
        for pattern in ("build", "build-*", ".git"):
            self.assertIn(pattern, patterns)


def main():
    global ARGS
    parser = argparse.ArgumentParser()
    parser.add_argument("--source-dir", required=True)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--plugin", action="append")
    ARGS, rest = parser.parse_known_args()
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)


if __name__ == "__main__":
    main()
