"""Operation filters: include lists narrow, exclude lists remove, globs and methods."""

from __future__ import annotations

from openapi_tools import OperationFilter

OPS = [
    ("GET", "/pets", "listPets", ("pets",)),
    ("POST", "/pets", "createPet", ("pets", "write")),
    ("DELETE", "/pets/{id}", "deletePet", ("pets", "write")),
    ("GET", "/admin/stats", "adminStats", ("admin",)),
    ("GET", "/health", None, ()),
]


def kept(f: OperationFilter) -> list[str]:
    return [
        f"{method} {path}"
        for method, path, operation_id, tags in OPS
        if f.matches(method=method, path=path, operation_id=operation_id, tags=tags)
    ]


def test_no_filter_keeps_everything() -> None:
    assert len(kept(OperationFilter())) == len(OPS)


def test_tags() -> None:
    assert kept(OperationFilter(include_tags=("pets",), exclude_tags=("write",))) == ["GET /pets"]


def test_operation_id_globs_drop_operations_without_id() -> None:
    assert kept(OperationFilter(include_operations=("*Pet",))) == ["POST /pets", "DELETE /pets/{id}"]
    assert kept(OperationFilter(exclude_operations=("admin*", "list*"))) == [
        "POST /pets",
        "DELETE /pets/{id}",
        "GET /health",
    ]


def test_path_globs_and_methods() -> None:
    assert kept(OperationFilter(include_paths=("/pets*",), exclude_methods=("delete",))) == [
        "GET /pets",
        "POST /pets",
    ]
    assert kept(OperationFilter(include_methods=("get",), exclude_paths=("/admin/*",))) == [
        "GET /pets",
        "GET /health",
    ]
