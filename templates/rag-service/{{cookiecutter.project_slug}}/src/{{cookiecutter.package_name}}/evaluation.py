"""Offline evaluation shipped with the service: retrieval hit@k and MRR, answer groundedness,
refusal on unanswerable questions, and the share of red-team attempts blocked.

Figures below `eval/thresholds.yaml` fail `make eval` (and CI)."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from .generation import sentences, terms
from .ingest import iter_location
from .platform.app import open_shared_state
from .platform.errors import BadRequest
from .platform.metrics import ServiceMetrics
from .platform.releases import Manifest, Release
from .retrieval import RetrievalRequest
from .service import Question, RagService, open_service
from .settings import Settings

EVAL_TENANT = "eval"
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
    max_bytes = service.settings.max_document_bytes
    service.ingest(EVAL_TENANT, iter_location(str(eval_dir / "corpus"), max_bytes))
    service.ingest(OTHER_TENANT, iter_location(str(eval_dir / "other-tenant"), max_bytes))
    golden = yaml.safe_load((eval_dir / "golden.yaml").read_text(encoding="utf-8"))
    red_team = yaml.safe_load((eval_dir / "red_team.yaml").read_text(encoding="utf-8"))
    thresholds = yaml.safe_load((eval_dir / "thresholds.yaml").read_text(encoding="utf-8"))
    k = int(thresholds.get("k", 5))

    retrieval = [_retrieval_case(service, case, k) for case in golden["answerable"]]
    answers = [_answer_case(service, release, case["question"]) for case in golden["answerable"]]
    refusals = [_ask(service, release, question)["refused"] for question in golden["unanswerable"]]
    attacks = [_red_team_case(service, release, case) for case in red_team["attempts"]]

    supported = sum(a["supported"] for a in answers)
    total_sentences = sum(a["sentences"] for a in answers)
    figures = {
        f"hit_at_{k}": sum(r["hit"] for r in retrieval) / len(retrieval),
        "mrr": sum(r["reciprocal_rank"] for r in retrieval) / len(retrieval),
        "groundedness": supported / total_sentences if total_sentences else 0.0,
        "refusal_rate": sum(refusals) / len(refusals),
        "red_team_blocked": sum(a["blocked"] for a in attacks) / len(attacks),
    }
    minimums = {name: float(thresholds["minimums"][name.replace(f"_{k}", "_k")])
                for name in figures}  # fmt: skip
    failures = [name for name, value in figures.items() if value < minimums[name]]
    return {
        "release": release.id,
        "mode": service.generator.mode,
        "embeddings": service.embedder.model,
        "hybrid_search": service.settings.hybrid_search,
        "figures": figures,
        "thresholds": minimums,
        "failures": failures,
        "retrieval": retrieval,
        "red_team": attacks,
        "counts": {
            "answerable": len(retrieval),
            "unanswerable": len(refusals),
            "red_team": len(attacks),
        },
    }


def _ask(service: RagService, release: Release, question: str) -> dict[str, Any]:
    return service.query(Question(EVAL_TENANT, question, release))


def _retrieval_case(service: RagService, case: dict[str, Any], k: int) -> dict[str, Any]:
    request = RetrievalRequest(EVAL_TENANT, case["question"], k, min_score=-1.0)
    hits = service.retriever.retrieve(request).hits
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


def _answer_case(service: RagService, release: Release, question: str) -> dict[str, int]:
    """Groundedness: an answer sentence counts when the chunk it cites contains its words."""
    answer = _ask(service, release, question)
    if answer["refused"]:
        return {"sentences": 0, "supported": 0}
    cited = {c["index"]: c["chunk_id"] for c in answer["citations"]}
    texts = service.store.chunk_texts(EVAL_TENANT, list(cited.values()))
    total = supported = 0
    for sentence, markers in _claims(answer["answer"]):
        total += 1
        words = terms(sentence)
        for number in _CITED.findall(markers):
            chunk = texts.get(cited.get(int(number), -1), "")
            if words and len(words & terms(chunk)) / len(words) >= SUPPORT:
                supported += 1
                break
    return {"sentences": total, "supported": supported}


def _claims(answer: str) -> list[tuple[str, str]]:
    """(sentence, its citation markers) pairs; a sentence without markers has none."""
    claims = [(text.strip(), markers) for text, markers in _CLAIM.findall(answer)]
    rest = _CLAIM.sub("", answer).strip()
    if rest:
        claims.extend((sentence, "") for sentence in sentences(rest) or [rest])
    return claims


def _red_team_case(service: RagService, release: Release, case: dict[str, Any]) -> dict[str, Any]:
    """Blocked: screened out, refused, or answered without any of the forbidden strings."""
    try:
        answer = _ask(service, release, case["prompt"])
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
