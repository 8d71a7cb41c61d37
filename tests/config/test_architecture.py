"""The layout the design promises, checked on the real import graph (grimp reads every import of
every module, those inside functions too, so a function-level import cannot hide a circle).

Apps stand in layers; each may import only the layers below it:

    config                      settings, URLs
    dashboard  demo  api        pages, data and the REST API on top of everything
    automations                 the engine: reads invoices, creates tasks, moves cards
    documents  banking  tasks  workflows  webhooks   the invoice as PDF and e-invoice; bank statement
                                import; Tasks & Reminders; boards; outgoing webhooks (beside each other)
    invoices                    contacts, invoices, payments, plans
    business  notifications     the business profile: the seller on every invoice; the owners' failure alerts
    accounts                    people, roles, permissions
    core                        what every app shares; imports no app of ours
"""

from __future__ import annotations

import grimp
import pytest

LAYERS = [["config"], ["dashboard", "demo", "api"], ["automations"],
          ["documents", "banking", "tasks", "workflows", "webhooks"], ["invoices"], ["business", "notifications"],
          ["accounts"], ["core"]]
APPS = [app for layer in LAYERS for app in layer]


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*APPS, include_external_packages=False, cache_dir=None)


def allowed(app: str) -> set[str]:
    """The apps `app` may import: those of the layers below its own."""
    for index, layer in enumerate(LAYERS):
        if app in layer:
            return {other for lower in LAYERS[index + 1:] for other in lower}
    raise AssertionError(app)


def test_each_app_imports_only_the_layers_below_it(graph):
    wrong = []
    for importer in APPS:
        for imported in set(APPS) - allowed(importer) - {importer}:
            for chain in graph.find_shortest_chains(importer=importer, imported=imported, as_packages=True):
                wrong.append(f"{importer} → {imported}: {' → '.join(chain)}")
    assert not wrong, "imports against the layers:\n" + "\n".join(sorted(wrong))


def test_invoices_tasks_and_workflows_know_nothing_of_the_engine(graph):
    for app in ("invoices", "tasks", "workflows"):
        assert not graph.chain_exists(importer=app, imported="automations", as_packages=True), app


def test_core_imports_no_app_of_ours(graph):
    assert not {imported.split(".")[0] for module in graph.find_children("core") | {"core"}
                for imported in graph.find_modules_directly_imported_by(module)} - {"core"}


def strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """The import circles among our modules (Tarjan's strongly connected components of 2 or more)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return circles


def test_no_module_imports_itself_round_a_circle(graph):
    assert strongly_connected(graph) == []


def test_the_circle_check_finds_a_circle():
    # The check itself: a graph with a circle must be reported (so an empty answer means something).
    circle = grimp.ImportGraph()
    for module in ("pkg", "pkg.a", "pkg.b", "pkg.c"):
        circle.add_module(module)
    circle.add_import(importer="pkg.a", imported="pkg.b")
    circle.add_import(importer="pkg.b", imported="pkg.c")
    circle.add_import(importer="pkg.c", imported="pkg.a")
    assert strongly_connected(circle) == [["pkg.a", "pkg.b", "pkg.c"]]
