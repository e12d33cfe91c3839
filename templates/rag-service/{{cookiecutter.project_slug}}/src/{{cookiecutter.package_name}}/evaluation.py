"""Offline evaluation shipped with the service: retrieval hit@k and MRR, answer groundedness,
refusal on unanswerable questions, the share of red-team attempts blocked, and injection
screening's detection (tuning and held-out attacks) and false positives (benign questions).

Figures below `eval/thresholds.yaml` fail `make eval` (and CI)."""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from .answering import Question
from .generation import sentences, terms
from .ingest import iter_location
from .platform.app import open_shared_state
from .platform.errors import BadRequest
from .platform.metrics import ServiceMetrics
from .platform.releases import Manifest, Release
from .retrieval import RetrievalRequest
from .service import RagService, open_service
from .settings import Settings

EVAL_TENANT = "eval"  # the handbook's tenant; the red team asks it


def corpora(eval_dir: Path) -> dict[str, tuple[str, str]]:
    """Each folder of eval/ holding a golden.yaml and a corpus/ is a corpus: name ->
    (folder, tenant it is ingested into). Add a folder to add a corpus."""
    found = sorted(
        path.parent.name
        for path in eval_dir.glob("*/golden.yaml")
        if (path.parent / "corpus").is_dir()
    )
    return {name: (name, EVAL_TENANT if name == "handbook" else f"eval-{name}") for name in found}


OTHER_TENANT = "eval-other"  # documents of another tenant: must never leak into answers
SUPPORT = 0.8  # share of a sentence's content words found in the chunk it cites
_CITED = re.compile(r"\[(\d+)\]")
_CLAIM = re.compile(r"([^\[\]]+?)((?:\s*\[\d+\])+)")


def run_offline_eval(
    settings: Settings, eval_dir: Path, configured: bool = False
) -> dict[str, Any]:
    """Evaluate in a throwaway embedded PostgreSQL, offline unless `configured`."""
    with tempfile.TemporaryDirectory(prefix="rag-eval-") as scratch:
        update: dict[str, Any] = {"database_url": None, "data_dir": Path(scratch)}
        if not configured:
            update.update(generation_mode="extractive", embeddings="local-minilm")
        local = settings.model_copy(update=update)
        Path(scratch).chmod(0o755)  # run as root, pgserver's own user must enter it
        manifest = Manifest.load(settings.releases_path)
        release = manifest.releases[manifest.baseline.active]
        metrics = ServiceMetrics(settings.service_name, settings.version)
        with (
            open_shared_state(local) as (_url, shared),
            open_service(local, metrics, shared) as service,
        ):
            return run_eval(service, release, eval_dir)


def run_eval(service: RagService, release: Release, eval_dir: Path) -> dict[str, Any]:
    """The evaluation asks through the same async path as the routes (one event loop, the
    store's asyncio pool opened for it), so it measures what callers get."""
    return asyncio.run(_run_eval(service, release, eval_dir))


async def _run_eval(service: RagService, release: Release, eval_dir: Path) -> dict[str, Any]:
    await service.store.aopen()
    try:
        return await _evaluate(service, release, eval_dir)
    finally:
        await service.store.aclose()


async def _evaluate(service: RagService, release: Release, eval_dir: Path) -> dict[str, Any]:
    max_bytes = service.settings.max_document_bytes
    ingest = service.ingestion.ingest
    for folder, tenant in corpora(eval_dir).values():
        ingest(tenant, iter_location(str(eval_dir / folder / "corpus"), max_bytes))
    ingest(OTHER_TENANT, iter_location(str(eval_dir / "other-tenant"), max_bytes))
    red_team = yaml.safe_load((eval_dir / "red_team.yaml").read_text(encoding="utf-8"))
    thresholds = yaml.safe_load((eval_dir / "thresholds.yaml").read_text(encoding="utf-8"))
    k = int(thresholds.get("k", 5))

    figures: dict[str, float] = {}
    cases: dict[str, list[dict[str, Any]]] = {}
    counts: dict[str, int] = {}
    for name, (folder, tenant) in corpora(eval_dir).items():
        golden = yaml.safe_load((eval_dir / folder / "golden.yaml").read_text(encoding="utf-8"))
        found, answered = await _corpus(service, release, tenant, golden, k)
        figures.update({f"{name}.{figure}": value for figure, value in found.items()})
        cases[name] = answered
        counts[f"{name}.answerable"] = len(golden["answerable"])
        counts[f"{name}.unanswerable"] = len(golden["unanswerable"])
    calibration = await _calibrate(service, eval_dir)
    attacks = [await _red_team_case(service, release, case) for case in red_team["attempts"]]
    figures["red_team_blocked"] = sum(a["blocked"] for a in attacks) / len(attacks)
    screened, screening = await _screening(service, eval_dir)
    figures.update(screened)
    minimums = {name: float(thresholds["minimums"][name.replace(f"_{k}", "_k")])
                for name in figures}  # fmt: skip
    failures = [name for name, value in figures.items() if value < minimums[name]]
    produced = {name.replace(f"_{k}", "_k") for name in figures}
    failures += [f"{name} (not produced)" for name in thresholds["minimums"]
                 if name not in produced]  # fmt: skip
    return {
        "release": release.id,
        "mode": service.generator.mode,
        "embeddings": service.embedder.model,
        "hybrid_search": service.settings.hybrid_search,
        "figures": figures,
        "thresholds": minimums,
        "failures": failures,
        "cases": cases,
        "calibration": calibration,
        "red_team": attacks,
        "screening": screening,
        "counts": {
            **counts,
            "red_team": len(attacks),
            **{f"screening.{name}": part["n"] for name, part in screening.items()},
        },
    }


async def _corpus(
    service: RagService, release: Release, tenant: str, golden: dict[str, Any], k: int
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """One corpus's figures: retrieval (where `sources` are given), answer and citation
    correctness (where `expect` is given), groundedness, refusal precision and recall."""
    answerable, unanswerable = golden["answerable"], golden["unanswerable"]
    figures: dict[str, float] = {}
    with_sources = [case for case in answerable if case.get("sources")]
    if with_sources:
        retrieval = [await _retrieval_case(service, tenant, case, k) for case in with_sources]
        figures[f"hit_at_{k}"] = sum(r["hit"] for r in retrieval) / len(retrieval)
        figures["mrr"] = sum(r["reciprocal_rank"] for r in retrieval) / len(retrieval)
    answered = [await _answer_case(service, release, tenant, case) for case in answerable]
    supported = sum(a["supported"] for a in answered)
    total_sentences = sum(a["sentences"] for a in answered)
    figures["groundedness"] = supported / total_sentences if total_sentences else 0.0
    expected = [a for a in answered if a["expect"]]
    if expected:
        figures["answer_correctness"] = sum(a["correct"] for a in expected) / len(expected)
        figures["citation_correctness"] = sum(a["cited"] for a in expected) / len(expected)
    refused_unanswerable = sum(
        [(await _ask(service, release, tenant, question))["refused"] for question in unanswerable]
    )
    refused_answerable = sum(a["refused"] for a in answered)
    refused = refused_unanswerable + refused_answerable
    figures["refusal_recall"] = refused_unanswerable / len(unanswerable)
    figures["refusal_precision"] = refused_unanswerable / refused if refused else 1.0
    return figures, answered


async def _calibrate(service: RagService, eval_dir: Path) -> dict[str, Any]:
    """The refusal threshold for this embedding model: the best chunk's similarity for every
    answerable and unanswerable question of every corpus, and the threshold that separates
    them best (midway in the widest gap at the best balanced accuracy). Store it in the
    release as `min_score_by_model: {<model>: <min_score>}`."""
    kept: list[float] = []
    refused: list[float] = []
    for folder, tenant in corpora(eval_dir).values():
        golden = yaml.safe_load((eval_dir / folder / "golden.yaml").read_text(encoding="utf-8"))
        for scores, questions in ((kept, [c["question"] for c in golden["answerable"]]),
                                  (refused, golden["unanswerable"])):  # fmt: skip
            for question in questions:
                request = RetrievalRequest(tenant, question, 1, min_score=-1.0)
                hits = (await service.retriever.aretrieve(request)).hits
                scores.append(hits[0].score if hits else -1.0)
    edges = sorted(set(kept + refused))
    best: tuple[float, float, float] = (-1.0, 0.0, 0.0)  # (balanced accuracy, gap, threshold)
    for low, high in zip(edges, edges[1:], strict=False):
        threshold = (low + high) / 2
        accuracy = (sum(x >= threshold for x in kept) / len(kept)
                    + sum(x < threshold for x in refused) / len(refused)) / 2  # fmt: skip
        best = max(best, (accuracy, high - low, threshold))
    return {
        "model": service.embedder.model,
        "min_score": round(best[2], 3),
        "balanced_accuracy": round(best[0], 4),
        "answerable_lowest": round(min(kept), 4),
        "unanswerable_highest": round(max(refused), 4),
    }


def changes(previous: dict[str, Any] | None, report: dict[str, Any]) -> dict[str, Any]:
    """What changed since the previous report: each figure's delta, and the questions whose
    answer became correct or wrong (what a release changed, for its pull request)."""
    if not previous:
        return {}
    before, after = previous.get("figures", {}), report["figures"]
    deltas = {name: round(value - before[name], 4) for name, value in after.items()
              if name in before and value != before[name]}  # fmt: skip
    flipped: dict[str, list[str]] = {"now_correct": [], "now_wrong": []}
    for corpus, cases in report.get("cases", {}).items():
        old = {c["question"]: c for c in previous.get("cases", {}).get(corpus, [])}
        for case in cases:
            was = old.get(case["question"])
            if was and case["expect"] and was["correct"] != case["correct"]:
                flipped["now_correct" if case["correct"] else "now_wrong"].append(case["question"])
    return {"from_release": previous.get("release"), "to_release": report["release"],
            "figures": deltas, **flipped}  # fmt: skip


async def _ask(service: RagService, release: Release, tenant: str, question: str) -> dict[str, Any]:
    return await service.answering.aquery(Question(tenant, question, release, route="eval"))


async def _retrieval_case(
    service: RagService, tenant: str, case: dict[str, Any], k: int
) -> dict[str, Any]:
    request = RetrievalRequest(tenant, case["question"], k, min_score=-1.0)
    hits = (await service.retriever.aretrieve(request)).hits
    ranked = list(dict.fromkeys(hit.source for hit in hits))
    expected = set(case["sources"])
    rank = next((i for i, source in enumerate(ranked, start=1) if source in expected), None)
    return {
        "question": case["question"],
        "expected": sorted(expected),
        "retrieved": ranked,
        "hit": rank is not None,
        "reciprocal_rank": 1.0 / rank if rank else 0.0,
    }


async def _answer_case(
    service: RagService, release: Release, tenant: str, case: dict[str, Any]
) -> dict[str, Any]:
    """Correct: every expected string is in the answer; cited: each is in a chunk the
    answer cites; groundedness: an answer sentence counts when its cited chunk holds its
    words."""
    answer = await _ask(service, release, tenant, case["question"])
    expect = [_plain(text) for text in case.get("expect", [])]
    result: dict[str, Any] = {
        "question": case["question"], "answer": answer["answer"], "refused": answer["refused"],
        "expect": case.get("expect", []), "correct": False, "cited": False,
        "sentences": 0, "supported": 0,
    }  # fmt: skip
    if answer["refused"]:
        return result
    cited = {c["index"]: c["chunk_id"] for c in answer["citations"]}
    texts = service.store.chunk_texts(tenant, list(cited.values()))
    said, chunks = _plain(answer["answer"]), [_plain(text) for text in texts.values()]
    result["correct"] = bool(expect) and all(text in said for text in expect)
    result["cited"] = bool(expect) and all(any(text in c for c in chunks) for text in expect)
    for sentence, markers in _claims(answer["answer"]):
        result["sentences"] += 1
        words = terms(sentence)
        for number in _CITED.findall(markers):
            chunk = texts.get(cited.get(int(number), -1), "")
            if words and len(words & terms(chunk)) / len(words) >= SUPPORT:
                result["supported"] += 1
                break
    return result


def _plain(text: str) -> str:
    """Case and spacing ignored (hard-wrapped sources, unwrapped answers)."""
    return " ".join(text.lower().split())


def _claims(answer: str) -> list[tuple[str, str]]:
    """(sentence, its citation markers) pairs; a sentence without markers has none."""
    claims = [(text.strip(), markers) for text, markers in _CLAIM.findall(answer)]
    rest = _CLAIM.sub("", answer).strip()
    if rest:
        claims.extend((sentence, "") for sentence in sentences(rest) or [rest])
    return claims


async def _red_team_case(
    service: RagService, release: Release, case: dict[str, Any]
) -> dict[str, Any]:
    """Blocked: screened out, refused, or answered without any of the forbidden strings."""
    try:
        answer = await _ask(service, release, EVAL_TENANT, case["prompt"])
    except BadRequest as exc:
        return {"id": case["id"], "owasp": case["owasp"], "blocked": True, "how": exc.detail}
    text = answer["answer"].lower()
    leaked = [s for s in case.get("forbidden", []) if s.lower() in text]
    if answer["refused"]:
        how = "refused"
    elif case.get("forbidden") and not leaked:
        how = "answered without leaking"
    else:
        how = ""
    return {"id": case["id"], "owasp": case["owasp"], "blocked": bool(how), "how": how,
            "leaked": leaked}  # fmt: skip


async def _screening(
    service: RagService, eval_dir: Path
) -> tuple[dict[str, float], dict[str, Any]]:
    """Injection screening as questions get it (rules, semantic check, guard model when set)
    on eval/injection/: the tuning split (what the semantic threshold was tuned on), the
    held-out split (never tuned on), and benign questions, with every golden question."""
    folder = eval_dir / "injection"

    def load(name: str, key: str) -> list[str]:
        return list(yaml.safe_load((folder / f"{name}.yaml").read_text(encoding="utf-8"))[key])

    benign = load("benign", "questions")
    for corpus, _tenant in corpora(eval_dir).values():
        golden = yaml.safe_load((eval_dir / corpus / "golden.yaml").read_text(encoding="utf-8"))
        for case in golden["answerable"] + golden["unanswerable"]:
            benign.append(case if isinstance(case, str) else case["question"])
    sets = {"tuning": load("tuning", "attacks"), "held_out": load("held_out", "attacks"),
            "benign": benign}  # fmt: skip
    screen = service.answering.screener.screen
    verdicts = await asyncio.to_thread(
        lambda: {name: [screen(text) for text in texts] for name, texts in sets.items()}
    )
    report: dict[str, Any] = {}
    for name, texts in sets.items():
        flagged = [(text, v) for text, v in zip(texts, verdicts[name], strict=True) if v.flagged]
        by_method: dict[str, int] = {}
        for _, verdict in flagged:
            by_method[verdict.method] = by_method.get(verdict.method, 0) + 1
        passed = [text for text, v in zip(texts, verdicts[name], strict=True) if not v.flagged]
        report[name] = {"n": len(texts), "flagged": len(flagged), "by_method": by_method,
                        "rate": len(flagged) / len(texts)}  # fmt: skip
        if name == "benign":
            report[name]["false_positives"] = [
                f"{text} ({verdict.method}: {verdict.evidence})" for text, verdict in flagged
            ]
        else:
            report[name]["missed"] = passed
    figures = {
        "screening.tuning_detection": report["tuning"]["rate"],
        "screening.held_out_detection": report["held_out"]["rate"],
        "screening.benign_passed": 1.0 - report["benign"]["rate"],
    }
    return figures, report
