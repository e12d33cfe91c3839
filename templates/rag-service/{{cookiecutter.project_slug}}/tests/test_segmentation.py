"""What an extractive answer may quote: whole sentences of hard-wrapped text, list items and
table rows with their header, never a heading; and it quotes the unit holding the fact."""

from __future__ import annotations

from {{ cookiecutter.package_name }}.segmentation import segment

WRAPPED = """Deployments
===========

Production deployments happen between 09:00 and
16:00 local time. Nothing ships on Fridays, e.g. hotfixes
wait for Monday.

| Tool | Uptime |
|------|--------|
| Grafana | 99% |

- PagerDuty
- Opsgenie for the EU
  region only
"""


def test_hard_wrapped_sentences_lists_and_table_rows_are_whole_units():
    units = segment(WRAPPED)
    assert [unit.text for unit in units] == [
        "Production deployments happen between 09:00 and 16:00 local time.",
        "Nothing ships on Fridays, e.g. hotfixes wait for Monday.",
        "Tool: Grafana; Uptime: 99%",
        "PagerDuty",
        "Opsgenie for the EU region only",
    ]
    assert {unit.context for unit in units} == {"Deployments"}  # the heading: context only


def test_every_unit_knows_where_its_words_lie_in_the_chunk():
    """The spans unit vectors are pooled over: a unit's words in order (across the wraps the
    text had); a table row's span is its own line."""
    for unit in segment(WRAPPED, spans=True):
        assert 0 <= unit.start < unit.end <= len(WRAPPED), unit
        found = WRAPPED[unit.start : unit.end]
        if unit.text.startswith("Tool: "):
            assert found == "| Grafana | 99% |"
        else:
            assert found.split() == unit.text.split(), (found, unit.text)


def test_markdown_headings_nest_under_the_chunks_heading_path():
    units = segment("## Paging\nA page escalates after ten minutes.", "Handbook > Paging")
    assert [(u.context, u.text) for u in units] == [
        ("Handbook > Paging", "A page escalates after ten minutes.")
    ]
{%- if cookiecutter.generation_mode == "extractive" %}


def test_the_answer_quotes_the_unit_holding_the_fact_not_the_one_repeating_the_question(
    client, auth_headers, tenant
):
    from conftest import ingest

    note = (
        "# Monitoring tools\n\nThe monitoring tools of the platform team are listed below"
        " and reviewed\nevery quarter by the team.\n\n| Tool | Uptime target |\n|---|---|\n"
        "| Grafana | 99% |\n| Loki | 99.5% |\n"
    )
    ingest(client, auth_headers, tenant, **{"tools.md": note})
    question = {"tenant": tenant, "question": "What is the uptime target of Loki?"}
    body = client.post("/v1/query", json=question, headers=auth_headers).json()
    assert "Tool: Loki; Uptime target: 99.5%" in body["answer"], body["answer"]
{%- endif %}
