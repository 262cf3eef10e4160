"""Mutation testing of the model: does the test suite notice when a kernel behaviour is
encoded wrongly?

Each mutant below is one deliberate, named mistake in `model/` or `properties/` (a dropped
clean, a swapped direction, a weakened guard, a broken predicate). The script applies one
mutant at a time to the working tree, runs the model's tests with `-x`, restores the file,
and says which test killed it. A mutant whose text no longer occurs exactly once is
reported STALE (the model moved on: update the list), never counted as killed. Mutants that
cannot change any observable behaviour are marked `equivalent` with the reason, and are
left out of the kill rate.

    .venv/bin/python bench/mutants.py            # every mutant (tens of minutes)
    .venv/bin/python bench/mutants.py --list     # the mutants, one a line
    .venv/bin/python bench/mutants.py NAME ...   # only these

The last line is `kill rate: K/N non-equivalent mutants (P %)`. It edits files in place
and restores them even on Ctrl-C, so it refuses a tree with uncommitted changes to those
files; run it in a worktree of its own (`git worktree add`, with its own `pip install -e`),
never where someone may commit meanwhile.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TESTS = ("tests/model", "tests/test_policies.py", "tests/test_counterexamples.py", "tests/test_manifest.py")
"""Model-level tests first (they name the behaviour); the manifest (every built-in's state
space and verdicts) last."""


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    new: str
    equivalent: str = ""
    """Why no test can tell this mutant apart (then it is not counted)."""


MUTANTS: tuple[Mutant, ...] = (
    # platform: cache maintenance and hardware moves
    Mutant("clean-leaves-memory-stale", "model/platform.py",
           "        eff.set(line.memory, eff.get(line.cache_latest))\n        eff.set(line.cache, \"clean\")",
           "        eff.set(line.cache, \"clean\")"),
    Mutant("clean-invalidates", "model/platform.py",
           "        eff.set(line.cache, \"clean\")\n", "        eff.set(line.cache, \"invalid\")\n"),
    Mutant("invalidate-keeps-latest", "model/platform.py",
           "    eff.set(line.cache, \"invalid\")\n    eff.set(line.cache_latest, FALSE)\n",
           "    eff.set(line.cache, \"invalid\")\n"),
    Mutant("for-device-never-invalidates", "model/platform.py",
           "drop = direction == \"DMA_FROM_DEVICE\" and st.cfg.kernel.invalidates_from_device",
           "drop = False"),
    Mutant("for-device-always-invalidates-from-device", "model/platform.py",
           "drop = direction == \"DMA_FROM_DEVICE\" and st.cfg.kernel.invalidates_from_device",
           "drop = direction == \"DMA_FROM_DEVICE\""),
    Mutant("for-cpu-skips-bidirectional", "model/platform.py",
           "    if direction != \"DMA_TO_DEVICE\":\n        for line in lines:\n            invalidate(eff, line)",
           "    if direction == \"DMA_FROM_DEVICE\":\n        for line in lines:\n            invalidate(eff, line)"),
    Mutant("for-cpu-invalidates-to-device", "model/platform.py",
           "    if direction != \"DMA_TO_DEVICE\":\n        for line in lines:\n            invalidate(eff, line)",
           "    for line in lines:\n        invalidate(eff, line)"),
    Mutant("eviction-does-not-write-back", "model/platform.py",
           "        evict.set(line.memory, line.cache_latest.ref)\n", "        pass\n"),
    Mutant("fill-keeps-old-latest-bit", "model/platform.py",
           "    fill.set(line.cache_latest, line.memory.ref)\n", ""),
    Mutant("no-speculative-fill", "model/platform.py",
           "and_(alive, line.cache.eq(\"invalid\")), fill)", "FALSE, fill)"),
    Mutant("lazy-iommu-flushes-at-unmap", "model/dma_api.py",
           "        eff.set(st.iotlb_stale[dev.name], TRUE)\n", "        eff.set(st.iotlb_stale[dev.name], FALSE)\n"),
    Mutant("write-keeps-other-copies-latest", "model/platform.py",
           "    if keep != \"memory\":\n        eff.set(st.memory_latest[ln], FALSE)\n", ""),
    Mutant("write-keeps-bounce-slots-latest", "model/platform.py",
           "        if d != keep:\n            eff.set(slots[ln], FALSE)\n", "        pass\n"),
    Mutant("uncached-store-goes-to-cache", "model/platform.py",
           "    else:\n        eff.set(st.memory_latest[ln], latest)\n",
           "    else:\n        cached_store(eff, st.line(ln), latest)\n"),
    # the streaming DMA API and swiotlb
    Mutant("map-ignores-skip-cpu-sync", "model/dma_api.py",
           "    elif not dev.coherent and not skip_cpu_sync:\n        arch_sync_dma_for_device(st, eff, direction, "
           "[st.line(ln) for ln in st.lines])",
           "    elif not dev.coherent:\n        arch_sync_dma_for_device(st, eff, direction, "
           "[st.line(ln) for ln in st.lines])"),
    Mutant("map-cleans-coherent-device", "model/dma_api.py",
           "    elif not dev.coherent and not skip_cpu_sync:\n", "    elif not skip_cpu_sync:\n"),
    Mutant("sync-for-cpu-no-copy-back", "model/dma_api.py",
           "    if dev.bounces and direction in DEVICE_WRITES:\n        swiotlb_bounce_to_cpu",
           "    if False:\n        swiotlb_bounce_to_cpu"),
    Mutant("sync-for-cpu-copies-back-to-device", "model/dma_api.py",
           "    if dev.bounces and direction in DEVICE_WRITES:\n        swiotlb_bounce_to_cpu",
           "    if dev.bounces:\n        swiotlb_bounce_to_cpu"),
    Mutant("sync-for-device-never-copies", "model/dma_api.py",
           "    if dev.bounces and _sync_for_device_copies(st, direction):",
           "    if False:"),
    Mutant("unmap-skip-still-syncs", "model/dma_api.py",
           "    if not skip_cpu_sync:\n        dma_sync_for_cpu(st, eff, dev, direction, st.lines)",
           "    dma_sync_for_cpu(st, eff, dev, direction, st.lines)"),
    Mutant("unmap-keeps-slot", "model/dma_api.py",
           "    for slot in st.bounce_latest.get(dev.name, []):\n        eff.set(slot, FALSE)\n", ""),
    Mutant("swiotlb-map-always-copies", "model/dma_api.py",
           "    return not skip_cpu_sync and direction in DEVICE_READS\n", "    return True\n"),
    Mutant("swiotlb-map-never-copies-before-ddbd", "model/dma_api.py",
           "    return not skip_cpu_sync and direction in DEVICE_READS\n", "    return False\n"),
    Mutant("swiotlb-reinstated-honours-skip", "model/dma_api.py",
           "    if rule in (Swiotlb.AA6F, Swiotlb.REINSTATED):\n        return True\n",
           "    if rule is Swiotlb.AA6F:\n        return True\n    if rule is Swiotlb.REINSTATED:\n"
           "        return not skip_cpu_sync\n"),
    Mutant("swiotlb-sync-for-device-always-copies", "model/dma_api.py",
           "    return st.cfg.kernel.swiotlb is Swiotlb.AA6F or direction in DEVICE_READS",
           "    return True"),
    Mutant("slot-not-cleaned-at-map", "model/dma_api.py",
           "    if not dev.coherent and not skip_cpu_sync:\n        arch_sync_dma_for_device(st, eff, direction, "
           "_bounce_lines(st, dev, st.lines))",
           "    if False:\n        arch_sync_dma_for_device(st, eff, direction, _bounce_lines(st, dev, st.lines))"),
    Mutant("bounce-copy-bypasses-slot-cache", "model/dma_api.py",
           "        if dev.name in st.slot_cache:\n            cached_store(eff, st.slot_line(dev.name, ln), value)\n"
           "        else:\n            eff.set(st.bounce_latest[dev.name][ln], value)",
           "        eff.set(st.bounce_latest[dev.name][ln], value)"),
    # the exporter callbacks and the core
    Mutant("heap-begin-syncs-for-device", "model/callbacks.py",
           "    _cpu_access_syncs(st, eff, access, passed, for_cpu=begin_sync is BeginSync.FOR_CPU)",
           "    _cpu_access_syncs(st, eff, access, passed, for_cpu=False)"),
    Mutant("end-syncs-nothing", "model/callbacks.py",
           "    _cpu_access_syncs(st, eff, access, callback_direction(st, direction), "
           "for_cpu=begin_sync is not BeginSync.FOR_CPU)",
           "    pass"),
    Mutant("heap-syncs-unmapped-attachments", "model/callbacks.py",
           "        live = mapped if access is CpuAccess.MAPPED_ATTACHMENTS or dev.bounces else attached",
           "        live = attached"),
    Mutant("cached-mapping-no-ebusy", "model/dmabuf.py",
           "        busy = and_(kept.ne(\"DMA_NONE\"), kept.ne(direction), kept.ne(\"DMA_BIDIRECTIONAL\"))",
           "        busy = FALSE"),
    Mutant("prime-attachment-no-ebusy", "model/callbacks.py",
           "        busy = and_(kept.ne(\"DMA_NONE\"), not_(same))", "        busy = FALSE"),
    Mutant("vb2-same-direction-remaps", "model/callbacks.py",
           "    with eff.when(not_(same)):\n        with eff.when(kept.ne(\"DMA_NONE\")):",
           "    with eff.when(TRUE):\n        with eff.when(kept.ne(\"DMA_NONE\")):"),
    Mutant("detach-leaves-kept-mapping", "model/callbacks.py",
           "        with eff.when(st.sgt_dir[d].ne(\"DMA_NONE\")):\n            unmap_kept(st, policy, eff, d)",
           "        pass"),
    Mutant("vb2-sg-ignores-queue-direction", "model/callbacks.py",
           "    return direction if fixed == AS_PASSED else fixed", "    return direction"),
    Mutant("sync-nents-syncs-everything", "model/callbacks.py",
           "                                                               range(1) if partial else st.lines)",
           "                                                               st.lines)"),
    Mutant("unmap-wrong-direction-not-misuse", "model/dmabuf.py",
           "    misuse.unmap_direction(st, eff, st.mapped[d].ref, direction)\n", ""),
    Mutant("overlap-reported-for-skip-cpu-sync", "model/misuse.py",
           "(skip_cpu_sync and rule is DmaDebugOverlap.WITHOUT_SKIP)", "False"),
    Mutant("to-device-mappings-tracked", "model/misuse.py",
           'TRACKED = ("DMA_FROM_DEVICE", "DMA_BIDIRECTIONAL")',
           'TRACKED = ("DMA_FROM_DEVICE", "DMA_BIDIRECTIONAL", "DMA_TO_DEVICE")'),
    Mutant("p8-accepts-bounced", "model/dmabuf.py",
           "(not dev.coherent or dev.bounces)", "(not dev.coherent)"),
    Mutant("attach-refusal-records-attachment", "model/dmabuf.py",
           "        eff.set(st.obs_refused, TRUE)\n    else:\n        eff.set(st.attached[d], TRUE)\n",
           "        eff.set(st.obs_refused, TRUE)\n    eff.set(st.attached[d], TRUE)\n    if True:\n"),
    # device and CPU accesses
    Mutant("bounced-device-reads-original", "model/clients.py",
           "        latest = ite(st.dma_mapped(d), st.bounce_latest[d][ln].ref, from_memory)",
           "        latest = from_memory"),
    Mutant("snooping-device-ignores-dirty-line", "model/clients.py",
           "        return ite(st.cache[ln].eq(\"dirty\"), st.cache_latest[ln].ref, st.memory_latest[ln].ref)",
           "        return st.memory_latest[ln].ref"),
    Mutant("snooping-write-leaves-cpu-line", "model/clients.py",
           "    if snoops:\n        invalidate(eff, st.line(ln))",
           "    if False:\n        invalidate(eff, st.line(ln))"),
    Mutant("strict-iommu-reaches-after-unmap", "model/clients.py",
           "    return or_(st.dma_mapped(imp.name), stale)", "    return TRUE"),
    # device jobs and fences
    Mutant("cpu-read-waits-for-no-fence", "model/fences.py",
           "not_(blocking(st, bracket.is_in(*CPU_WRITES))))", "TRUE)"),
    Mutant("cpu-read-waits-for-readers-too", "model/fences.py",
           "TRUE if usage(st.importer(d)) == WRITE else cpu_writes", "TRUE"),
    Mutant("job-runs-without-fence", "model/fences.py",
           "    return st.fence[d].eq(True) if d in st.fence else TRUE", "    return TRUE"),
    Mutant("fence-never-signals", "model/fences.py",
           "    eff.set(st.fence[d], FALSE)\n", "    eff.set(st.fence[d], TRUE)\n"),
    # importer lifetimes
    Mutant("held-importer-unmaps-inside-its-bracket", "model/dmabuf.py",
           "    if call == \"unmap\" and imp.vmap_user:\n        return st.cpu_access[KERNEL].eq(\"DMA_NONE\")",
           "    if call == \"unmap\" and imp.vmap_user:\n        return TRUE"),
    Mutant("held-importer-reattaches", "model/dmabuf.py",
           "        return st.has_mapped[d].eq(False)  # still set after its detach: never attached again",
           "        return TRUE"),
    Mutant("dynamic-attach-maps-to-device", "model/dmabuf.py",
           "    callbacks.map_dma_buf(st, policy, eff, d, \"DMA_BIDIRECTIONAL\")\n"
           "    eff.set(st.sgt_dir[d], \"DMA_BIDIRECTIONAL\")",
           "    callbacks.map_dma_buf(st, policy, eff, d, \"DMA_TO_DEVICE\")\n"
           "    eff.set(st.sgt_dir[d], \"DMA_TO_DEVICE\")"),
    # videobuf2: the exporting device's queue
    Mutant("vb2-prepare-ignores-no-cache-clean", "model/vb2.py",
           "    return st.cfg.memops_sync and \"V4L2_BUF_FLAG_NO_CACHE_CLEAN\" not in st.cfg.exporter.cache_hints",
           "    return st.cfg.memops_sync"),
    Mutant("vb2-finish-ignores-no-cache-invalidate", "model/vb2.py",
           "    skipped = \"V4L2_BUF_FLAG_NO_CACHE_INVALIDATE\" in ex.cache_hints or ex.queue_direction == "
           "\"DMA_TO_DEVICE\"",
           "    skipped = ex.queue_direction == \"DMA_TO_DEVICE\""),
    Mutant("vb2-dma-contig-coherent-memory-syncs", "model/config.py",
           "        return family_of(self.exporter.kind) == \"vb2-dma-sg\" or self.buffer.source.name == "
           "\"driver-cached\"",
           "        return True"),
    # exporter states by release (found by a source audit: each was a false HOLDS or a false alarm)
    Mutant("udmabuf-misc-device-has-a-dma-mask-from-v5-6", "model/exporters.py",
           "(UDMABUF_CPU_ACCESS, \"udmabuf@before-9e9fa6a9198b\")", "(UDMABUF_CPU_ACCESS, \"udmabuf@1ffe09590121\")"),
    Mutant("vb2-dma-sg-syncs-orig-nents-from-v5-9", "model/exporters.py",
           "**(VB2_DMA_SG | VB2_DMA_SG_BEGIN_END), sync_nents=True),", "**(VB2_DMA_SG | VB2_DMA_SG_BEGIN_END)),"),
    Mutant("never-mapped-table-sync-reaches-the-pages", "model/callbacks.py",
           "        if d in st.ever_mapped and not dev.bounces:\n"
           "            live = and_(live, st.ever_mapped[d].eq(True))\n", ""),
    # the properties
    Mutant("lost-writes-ignores-slots", "properties/__init__.py",
           "        copies += [slots[ln].eq(True) for slots in st.bounce_latest.values()]\n", "",
           ),
    Mutant("use-after-free-ignores-dma", "properties/__init__.py",
           "and_(not_(or_(*holders, st.mmap.eq(True))), not_(dma))", "not_(or_(*holders, st.mmap.eq(True)))"),
    Mutant("use-after-free-ignores-mmap", "properties/__init__.py",
           "and_(not_(or_(*holders, st.mmap.eq(True))), not_(dma))", "and_(not_(or_(*holders)), not_(dma))",
           equivalent="the last dma_buf_put is guarded by mmap == false (a VMA holds a file reference), "
           "so a released buffer is never still mmapped"),
)


def _imports(env: dict[str, str]) -> bool:
    """Whether the mutated model still builds every built-in: a mutant that breaks Python
    itself says nothing about the tests."""
    probe = ("from dmabuf_mc.model.build import build; from dmabuf_mc.model.config import builtin_names, load; "
             "from dmabuf_mc.model.policy import BASELINE; [build(load(n), BASELINE) for n in builtin_names()]")
    return subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env, capture_output=True).returncode == 0


def _run_tests(env: dict[str, str], basetemp: str) -> tuple[bool, str]:
    """Run the model's tests; (passed, the first failing test or '')."""
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", f"--basetemp={basetemp}",
           "-o", "addopts=", *TESTS]
    out = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    failed = next((ln.split(" ")[1] for ln in out.stdout.splitlines() if ln.startswith("FAILED ")), "")
    if out.returncode not in (0, 1):
        failed = failed or f"pytest exit {out.returncode}"
    return out.returncode == 0, failed


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="run only these mutants")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = ap.parse_args()
    known = {m.name for m in MUTANTS}
    if unknown := [n for n in args.names if n not in known]:
        print(f"unknown mutants: {', '.join(unknown)}", file=sys.stderr)
        return 2
    chosen = [m for m in MUTANTS if not args.names or m.name in args.names]
    if args.list:
        for m in chosen:
            print(f"{m.name:45} {m.path}{'  (equivalent)' if m.equivalent else ''}")
        return 0
    paths = sorted({m.path for m in chosen})
    dirty = subprocess.run(["git", "status", "--porcelain", "--", *paths], cwd=REPO, capture_output=True, text=True)
    if dirty.stdout.strip():
        print(f"uncommitted changes in the files it mutates; commit or stash first:\n{dirty.stdout}", file=sys.stderr)
        return 2
    env = dict(os.environ, DMABUF_MC_CACHE=tempfile.mkdtemp(prefix="mutants-cache-"))
    killed, survived, stale = [], [], []
    for m in chosen:
        path = REPO / m.path
        original = path.read_text()
        if original.count(m.old) != 1:
            stale.append(m.name)
            print(f"STALE     {m.name}: its text occurs {original.count(m.old)} times in {m.path}", flush=True)
            continue
        start = time.monotonic()
        try:
            path.write_text(original.replace(m.old, m.new))
            builds = _imports(env)
            passed, by = _run_tests(env, tempfile.mkdtemp(prefix="mutant-")) if builds else (False, "")
        finally:
            path.write_text(original)
        took = f"{time.monotonic() - start:.0f}s"
        if not builds:
            stale.append(m.name)
            print(f"BROKEN    {m.name}: the mutated model does not build (fix the mutant)", flush=True)
        elif passed and m.equivalent:
            print(f"EQUIV     {m.name} ({took}): {m.equivalent}", flush=True)
        elif passed:
            survived.append(m.name)
            print(f"SURVIVED  {m.name} ({took})", flush=True)
        else:
            killed.append(m.name)
            wrong = " (marked equivalent, wrongly: a test tells it apart)" if m.equivalent else ""
            print(f"killed    {m.name} by {by} ({took}){wrong}", flush=True)
    counted = len(killed) + len(survived)
    if stale:
        print(f"stale or broken: {len(stale)} mutants to update: {', '.join(stale)}")
    if survived:
        print(f"survivors: {', '.join(survived)}")
    rate = 100.0 * len(killed) / counted if counted else 0.0
    print(f"kill rate: {len(killed)}/{counted} non-equivalent mutants ({rate:.0f} %)")
    return 0 if not survived and not stale else 1


if __name__ == "__main__":
    sys.exit(main())
