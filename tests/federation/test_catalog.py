"""Naming and merging, without servers: prefix modes, collisions, filters, order, URI round trips."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from mcp_types import Prompt, Resource, ResourceTemplate, Tool

from federation.catalog import Catalog, Collision, Listing, Route, ToolFilter
from federation.naming import Namer
from federation.spec import NamingPolicy


def tool(name: str) -> Tool:
    return Tool(name=name, input_schema={"type": "object"})


def listing(*tools: str) -> Listing:
    return Listing(
        tools=tuple(tool(t) for t in tools),
        prompts=(Prompt(name="greet"),),
        resources=(Resource(name="info", uri="file:///info"),),
        templates=(ResourceTemplate(name="item", uri_template="file:///items/{id}"),),
    )


def namer(*servers: str, mode: str = "conditional", separator: str = "_") -> Namer:
    return Namer.for_servers({s: s for s in servers}, NamingPolicy(mode=mode, separator=separator))  # type: ignore[arg-type]


def test_conditional_prefixes_only_with_several_servers() -> None:
    one = Catalog.build(namer("a"), {"a": listing("add")})
    two = Catalog.build(namer("a", "b"), {"a": listing("add"), "b": listing("add")})
    assert [t.name for t in one.tools] == ["add"]
    assert [t.name for t in two.tools] == ["a_add", "b_add"]
    assert two.tool_routes["b_add"] == Route("b", "add")
    assert [p.name for p in two.prompts] == ["a_greet", "b_greet"]
    assert [r.uri for r in two.resources] == ["a+file:///info", "b+file:///info"]
    assert [t.uri_template for t in two.templates] == ["a+file:///items/{id}", "b+file:///items/{id}"]
    assert two.route_resource("b+file:///items/9") == Route("b", "file:///items/9")


def test_always_and_a_custom_separator() -> None:
    catalog = Catalog.build(namer("a", mode="always", separator="."), {"a": listing("add")})
    assert [t.name for t in catalog.tools] == ["a.add"]


def test_collisions_are_reported_and_the_first_server_keeps_the_name() -> None:
    catalog = Catalog.build(
        namer("a", "b", mode="never"), {"a": listing("add", "x"), "b": listing("add", "y")}
    )
    assert [t.name for t in catalog.tools] == ["add", "x", "y"]
    assert catalog.tool_routes["add"] == Route("a", "add")
    assert Collision("tool", "add", kept="a", dropped="b") in catalog.collisions
    assert {c.kind for c in catalog.collisions} == {"tool", "prompt", "resource", "resource template"}


def test_unprefixed_resources_route_by_listing_then_template() -> None:
    only = Listing(templates=(ResourceTemplate(name="item", uri_template="file:///items/{id}"),))
    catalog = Catalog.build(namer("a", "b", mode="never"), {"a": Listing(), "b": only})
    assert catalog.route_resource("file:///items/3") == Route("b", "file:///items/3")
    assert catalog.route_resource("file:///elsewhere") is None


def test_tool_filters() -> None:
    allowed = ToolFilter(include=("get*", "list*"), exclude=("*secret*",))
    catalog = Catalog.build(
        namer("a"), {"a": listing("get_x", "get_secret", "list_y", "delete_z")}, {"a": allowed}
    )
    assert [t.name for t in catalog.tools] == ["get_x", "list_y"]


_names = st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True)


@given(st.lists(_names, min_size=2, max_size=4, unique=True), st.text(min_size=1, max_size=30))
def test_uri_namespacing_reverses(servers: list[str], uri: str) -> None:
    n = namer(*servers)
    for server in servers:
        assert n.split_uri(n.uri(server, uri), servers) == (server, uri)


@given(st.permutations(["b", "a", "c", "d"]))
def test_order_does_not_depend_on_upstream_order(order: list[str]) -> None:
    catalog = Catalog.build(namer("s"), {"s": listing(*order)})
    assert [t.name for t in catalog.tools] == ["a", "b", "c", "d"]
