/* agentgw.telemetry._speedups: the telemetry hot path of issue 9 in C.

   Each function and type here has a reference implementation in Python that it must match exactly
   (tests/agentgw/telemetry/test_speedups.py compares the two on generated input):

   - request_span, upstream_span: agentgw.telemetry.exchange_spans (a finished span's tuple);
   - traceparent: agentgw.telemetry.propagation (the W3C header sent upstream);
   - encode_request: agentgw.telemetry.otlp (a batch of spans as an ExportTraceServiceRequest);
   - SpanQueue: otlp.SpanQueuePy (the OTLP sink's queue);
   - HistogramSeries: metrics.HistogramSeriesPy; record_llm, count: the observer's metric records;
   - Hooks: observer.TelemetryObserver's four hooks, for LLM exchanges;
   - random_bits: random.getrandbits, for trace and span ids.

   Why C: in Python each of these is a few hundred bytecodes per request, and the interpreter's
   dispatch of them, not any one call, is what telemetry cost (about 25% of a proxied request's
   instructions with every request traced, against a 5% budget). What only Python knows (a span's
   name and attributes, a shape's extra attributes, a new metric series) is still asked of Python,
   once per distinct value.

   The module is optional: agentgw.telemetry.native imports it and falls back to the Python
   implementations when it is missing (AGENTGW_NO_EXTENSIONS=1 also turns it off). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <time.h>
#include <stdint.h>
#include <string.h>
#include <structmember.h>
#ifndef Py_T_OBJECT_EX
#define Py_T_OBJECT_EX T_OBJECT_EX
#endif

/* ---------------------------------------------------------------------------------------------
   Configuration, set once by configure() from agentgw.telemetry.native. */

static PyObject *g_interned;         /* dict: equal `fixed` tuples share one (exchange_spans) */
static Py_ssize_t g_intern_limit;
/* The tuple each caller of interned() (request_span, upstream_span) was given last: most requests
   repeat their predecessor's values, and comparing with it first skips hashing all of them (fresh
   strings and tuples from the request and response bodies have no cached hash). */
enum { REQUEST_SITE, UPSTREAM_SITE };
static PyObject *g_recent[2];
static PyObject *g_parameter_values; /* genai.parameter_values */
static PyObject *g_parameter_fields; /* tuple: the request-parameter fields of genai's table */
#define MAX_PARAMETER_FIELDS 12
/* By the set of fields a body sets (a bit per field of g_parameter_fields): those fields in the
   order genai.parameter_values gives them, learnt from its first answer for that set. */
static PyObject *g_parameter_names[1 << MAX_PARAMETER_FIELDS];
static Py_hash_t g_field_hashes[MAX_PARAMETER_FIELDS]; /* of g_parameter_fields' items */
static int g_fields_plain;                             /* they are all exact str */
static PyObject *g_captured;         /* exchange_spans._captured */
static PyObject *g_request_shape;    /* int */
static PyObject *g_upstream_shape;   /* int */
static PyObject *g_server_kind;      /* int */
static PyObject *g_client_kind;      /* int */
static PyObject *g_llm;              /* "llm" */

/* Attribute names, interned at module init. */
static PyObject *s_protocol, *s_operation, *s_target, *s_route, *s_status, *s_backend, *s_provider,
    *s_stream, *s_response_model, *s_finish_reasons, *s_error_type, *s_request, *s_response_id,
    *s_usage, *s_input_tokens, *s_output_tokens, *s_cache_read, *s_cache_creation, *s_reasoning,
    *s_first_chunk, *s_started, *s_attributes, *s_response, *s_tool_result, *s_model, *s_url;

static int
configured(void)
{
    if (g_interned == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "agentgw.telemetry._speedups: configure() was not called");
        return 0;
    }
    return 1;
}

static PyObject *
configure(PyObject *module, PyObject *args)
{
    PyObject *interned, *parameter_values, *fields, *captured, *request_shape, *upstream_shape, *server, *client;
    Py_ssize_t limit;
    if (!PyArg_ParseTuple(args, "O!nOO!OOOOO", &PyDict_Type, &interned, &limit, &parameter_values,
                          &PyTuple_Type, &fields, &captured, &request_shape, &upstream_shape, &server,
                          &client)) {
        return NULL;
    }
    if (PyTuple_GET_SIZE(fields) > MAX_PARAMETER_FIELDS) {
        PyErr_SetString(PyExc_ValueError, "at most 12 request-parameter fields");
        return NULL;
    }
    for (int i = 0; i < (1 << MAX_PARAMETER_FIELDS); i++) {
        Py_CLEAR(g_parameter_names[i]);
    }
    g_fields_plain = 1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(fields); i++) {
        PyObject *field = PyTuple_GET_ITEM(fields, i);
        if (!PyUnicode_CheckExact(field)) {
            g_fields_plain = 0;
            break;
        }
        if ((g_field_hashes[i] = PyObject_Hash(field)) == -1) {
            return NULL;
        }
    }
    Py_XSETREF(g_parameter_fields, Py_NewRef(fields));
    Py_XSETREF(g_interned, Py_NewRef(interned));
    Py_CLEAR(g_recent[REQUEST_SITE]);
    Py_CLEAR(g_recent[UPSTREAM_SITE]);
    g_intern_limit = limit;
    Py_XSETREF(g_parameter_values, Py_NewRef(parameter_values));
    Py_XSETREF(g_captured, Py_NewRef(captured));
    Py_XSETREF(g_request_shape, Py_NewRef(request_shape));
    Py_XSETREF(g_upstream_shape, Py_NewRef(upstream_shape));
    Py_XSETREF(g_server_kind, Py_NewRef(server));
    Py_XSETREF(g_client_kind, Py_NewRef(client));
    Py_RETURN_NONE;
}

/* ---------------------------------------------------------------------------------------------
   Finished spans (exchange_spans.request_span, upstream_span). */

/* A new tuple of `size` items (new references taken): PyTuple_Pack without its va_list, about a
   third cheaper for the 10- to 13-item tuples of a span. PACK(a, b, ...) counts the items. */
static PyObject *
pack(Py_ssize_t size, PyObject *const *items)
{
    PyObject *tuple = PyTuple_New(size);
    if (tuple != NULL) {
        for (Py_ssize_t i = 0; i < size; i++) {
            PyTuple_SET_ITEM(tuple, i, Py_NewRef(items[i]));
        }
    }
    return tuple;
}
#define PACK(...) \
    pack((Py_ssize_t)(sizeof((PyObject *[]){__VA_ARGS__}) / sizeof(PyObject *)), (PyObject *[]){__VA_ARGS__})

/* A finished span's tuples are not tracked by the cycle collector: nothing they hold was made
   after them, so nothing can refer back to them, and a span waits in the OTLP queue for up to a
   batch of 512, through collections that would otherwise visit it each time (about 500
   instructions a request, and the memory traffic of walking the queue). */
static void
untrack(PyObject *tuple)
{
    if (tuple != NULL) {
        PyObject_GC_UnTrack(tuple);
    }
}

/* Two exact str objects are equal. */
static int
same_text(PyObject *a, PyObject *b)
{
    Py_ssize_t length = PyUnicode_GET_LENGTH(a);
    int kind = PyUnicode_KIND(a);
    return a == b || (length == PyUnicode_GET_LENGTH(b) && kind == (int)PyUnicode_KIND(b) &&
                      memcmp(PyUnicode_DATA(a), PyUnicode_DATA(b), (size_t)length * (size_t)kind) == 0);
}

/* a == b for the values of a `fixed` tuple: 1 or 0, -1 on error. Exact str, tuple and float
   are compared here, without the rich-comparison calls of a tuple's == (about 2k instructions a
   request); 0 for values of different types, which may still be equal (1 == 1.0): the caller
   then asks the interning dict, which knows. */
static int
fast_equal(PyObject *a, PyObject *b, int depth)
{
    if (a == b) {
        return 1;
    }
    PyTypeObject *type = Py_TYPE(a);
    if (type != Py_TYPE(b)) {
        return 0;
    }
    if (type == &PyUnicode_Type) {
        return same_text(a, b);
    }
    if (type == &PyTuple_Type && depth < 4) {
        Py_ssize_t size = PyTuple_GET_SIZE(a);
        if (size != PyTuple_GET_SIZE(b)) {
            return 0;
        }
        for (Py_ssize_t i = 0; i < size; i++) {
            int same = fast_equal(PyTuple_GET_ITEM(a, i), PyTuple_GET_ITEM(b, i), depth + 1);
            if (same <= 0) {
                return same;
            }
        }
        return 1;
    }
    if (type == &PyFloat_Type) {
        return PyFloat_AS_DOUBLE(a) == PyFloat_AS_DOUBLE(b);
    }
    return PyObject_RichCompareBool(a, b, Py_EQ);
}

/* `fixed`, or the equal tuple already interned; steals the reference to `fixed`. */
static PyObject *
interned(PyObject *fixed, int site)
{
    PyObject *recent = g_recent[site];
    if (recent != NULL) {
        int same = fast_equal(recent, fixed, 0);
        if (same < 0) {
            Py_DECREF(fixed);
            return NULL;
        }
        if (same) {
            Py_DECREF(fixed);
            return Py_NewRef(recent);
        }
    }
    PyObject *found = PyDict_GetItemWithError(g_interned, fixed);
    if (found != NULL) {
        Py_XSETREF(g_recent[site], Py_NewRef(found));
        Py_INCREF(found);
        Py_DECREF(fixed);
        return found;
    }
    if (PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_TypeError)) { /* not hashable: not shared */
            PyErr_Clear();
            return fixed;
        }
        Py_DECREF(fixed);
        return NULL;
    }
    if (PyDict_GET_SIZE(g_interned) >= g_intern_limit) {
        PyDict_Clear(g_interned);
    }
    if (PyDict_SetItem(g_interned, fixed, fixed) < 0) {
        Py_DECREF(fixed);
        return NULL;
    }
    Py_XSETREF(g_recent[site], Py_NewRef(fixed));
    return fixed;
}

/* Which request-parameter fields a body (an exact dict) sets, and their values, from one walk
   over its items, each key's stored hash matched against the fields' (a lookup per field cost
   about 120 instructions, for the dozen fields and then the names found). 1 when walked, 0 when
   the caller is to look the fields up instead (a large body, a key that is not an exact str,
   fields that are not), -1 on error. */
static int
fields_by_walk(PyObject *request, Py_ssize_t count, unsigned *set, PyObject **values)
{
    if (!g_fields_plain || PyDict_GET_SIZE(request) > 32) {
        return 0;
    }
    Py_ssize_t position = 0;
    PyObject *key, *value;
    Py_hash_t hash;
#if PY_VERSION_HEX < 0x030D0000
    while (_PyDict_Next(request, &position, &key, &value, &hash)) {
#else
    while (PyDict_Next(request, &position, &key, &value)) {
        if ((hash = PyObject_Hash(key)) == -1) {
            return -1;
        }
#endif
        if (!PyUnicode_CheckExact(key)) {
            return 0;
        }
        for (Py_ssize_t i = 0; i < count; i++) {
            if (g_field_hashes[i] == hash && same_text(key, PyTuple_GET_ITEM(g_parameter_fields, i))) {
                *set |= 1u << i;
                values[i] = value;
                break;
            }
        }
    }
    return 1;
}

/* The value fields_by_walk found for the field `name` (borrowed), or NULL. */
static PyObject *
walked_value(PyObject *name, Py_ssize_t count, unsigned set, PyObject **values)
{
    if (!PyUnicode_CheckExact(name)) {
        return NULL;
    }
    Py_hash_t hash = PyObject_Hash(name); /* a str keeps its hash: read, not computed */
    for (Py_ssize_t i = 0; i < count; i++) {
        if ((set & (1u << i)) && g_field_hashes[i] == hash &&
            same_text(name, PyTuple_GET_ITEM(g_parameter_fields, i))) {
            return values[i];
        }
    }
    return NULL;
}

/* genai.parameter_values(request): the request-parameter fields a body sets, and their values (one
   value, or a tuple of them, in the order of the fields). */
static PyObject *
parameter_values(PyObject *request)
{
    if (!PyDict_CheckExact(request)) {
        return PyObject_CallOneArg(g_parameter_values, request);
    }
    Py_ssize_t count = PyTuple_GET_SIZE(g_parameter_fields);
    PyObject *found_values[MAX_PARAMETER_FIELDS]; /* borrowed, where `set` has the field's bit */
    unsigned set = 0;
    int walked = fields_by_walk(request, count, &set, found_values);
    if (walked < 0) {
        return NULL;
    }
    if (!walked) {
        set = 0;
        for (Py_ssize_t i = 0; i < count; i++) {
            if (PyDict_GetItemWithError(request, PyTuple_GET_ITEM(g_parameter_fields, i)) != NULL) {
                set |= 1u << i;
            }
            else if (PyErr_Occurred()) {
                return NULL;
            }
        }
    }
    if (set == 0) {
        Py_RETURN_NONE;
    }
    PyObject *names = g_parameter_names[set];
    if (names == NULL) { /* the first body with these fields: Python's answer, and its order */
        PyObject *found = PyObject_CallOneArg(g_parameter_values, request);
        if (found != NULL && PyTuple_Check(found) && PyTuple_GET_SIZE(found) == 2 &&
            PyTuple_Check(PyTuple_GET_ITEM(found, 0))) {
            g_parameter_names[set] = Py_NewRef(PyTuple_GET_ITEM(found, 0));
        }
        return found;
    }
    Py_ssize_t size = PyTuple_GET_SIZE(names);
    PyObject *values = PyTuple_New(size);
    if (values == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < size; i++) {
        PyObject *value = walked ? walked_value(PyTuple_GET_ITEM(names, i), count, set, found_values)
                                 : PyDict_GetItemWithError(request, PyTuple_GET_ITEM(names, i));
        if (value == NULL) { /* the names are the fields found above: cannot be missing */
            Py_DECREF(values);
            return PyErr_Occurred() ? NULL : PyObject_CallOneArg(g_parameter_values, request);
        }
        PyTuple_SET_ITEM(values, i, Py_NewRef(value));
    }
    /* As itemgetter gives them: one field's value alone, several as a tuple. */
    PyObject *result = PACK(names, size == 1 ? PyTuple_GET_ITEM(values, 0) : values);
    Py_DECREF(values);
    return result;
}

/* Where a type keeps the attributes one caller reads: the offset of each one that is a plain slot
   (a __slots__ member, as the dataclasses of agentgw.exchange have), else -1. Learnt for the last
   type seen and kept while the type is unchanged (its version tag): reading a slot at its offset
   costs a load, PyObject_GetAttr about 170 instructions (the type's lookup, the descriptor call). */
#define MAX_SLOTS 16
typedef struct {
    PyTypeObject *type; /* strong reference */
    unsigned int version;
    Py_ssize_t offsets[MAX_SLOTS];
} Slots;

static Slots exchange_slots, call_slots, usage_slots, upstream_exchange_slots;

static void
learn_slots(Slots *slots, PyTypeObject *type, PyObject **names, int count)
{
    int generic = type->tp_getattro == PyObject_GenericGetAttr;
    for (int i = 0; i < count; i++) {
        slots->offsets[i] = -1;
        PyObject *found = generic ? _PyType_Lookup(type, names[i]) : NULL; /* borrowed */
        if (found != NULL && Py_IS_TYPE(found, &PyMemberDescr_Type)) {
            PyMemberDef *member = ((PyMemberDescrObject *)found)->d_member;
            if (member->type == Py_T_OBJECT_EX) {
                slots->offsets[i] = member->offset;
            }
        }
    }
    Py_INCREF(type);
    Py_XSETREF(slots->type, type);
    slots->version = type->tp_version_tag; /* 0: none assigned, so never matched below */
}

/* Fill `items` with the attributes of `obj` named in `names`; 0, or -1 with every item released. */
static int
get_attributes(PyObject *obj, PyObject **names, PyObject **items, int count, Slots *slots)
{
    PyTypeObject *type = Py_TYPE(obj);
    if (slots->type != type || slots->version != type->tp_version_tag || slots->version == 0) {
        learn_slots(slots, type, names, count);
    }
    int known = slots->version != 0;
    for (int i = 0; i < count; i++) {
        PyObject *item = NULL;
        if (known && slots->offsets[i] >= 0) {
            item = *(PyObject **)((char *)obj + slots->offsets[i]);
            Py_XINCREF(item);
        }
        if (item == NULL) { /* not a slot, or an empty one: AttributeError as Python raises it */
            item = PyObject_GetAttr(obj, names[i]);
        }
        if (item == NULL) {
            for (int j = 0; j < i; j++) {
                Py_DECREF(items[j]);
            }
            return -1;
        }
        items[i] = item;
    }
    return 0;
}

/* request_span's and upstream_span's checks: `expected` arguments (`usage`), configure() called,
   and args[2] a span in flight (InFlight, a 6-tuple). 1, or 0 with an exception set. */
static int
span_arguments(Py_ssize_t nargs, Py_ssize_t expected, const char *usage, PyObject *const *args)
{
    if (nargs != expected) {
        PyErr_SetString(PyExc_TypeError, usage);
        return 0;
    }
    if (!configured()) {
        return 0;
    }
    if (!PyTuple_Check(args[2]) || PyTuple_GET_SIZE(args[2]) < 6) {
        PyErr_SetString(PyExc_TypeError, "a span in flight must be a 6-tuple (InFlight)");
        return 0;
    }
    return 1;
}

enum {
    X_PROTOCOL, X_OPERATION, X_TARGET, X_ROUTE, X_STATUS, X_BACKEND, X_PROVIDER, X_STREAM,
    X_RESPONSE_MODEL, X_FINISH_REASONS, X_ERROR_TYPE, X_REQUEST, X_RESPONSE_ID, X_USAGE,
    X_FIRST_CHUNK, X_ATTRIBUTES, X_COUNT
};

static PyObject *
request_span(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (!span_arguments(nargs, 4, "request_span(exchange, capture_content, span, end_ns)", args)) {
        return NULL;
    }
    PyObject *exchange = args[0], *span = args[2], *end_ns = args[3];
    int capture = PyObject_IsTrue(args[1]);
    if (capture < 0) {
        return NULL;
    }
    PyObject *names[X_COUNT] = {
        s_protocol, s_operation, s_target, s_route, s_status, s_backend, s_provider, s_stream,
        s_response_model, s_finish_reasons, s_error_type, s_request, s_response_id, s_usage,
        s_first_chunk, s_attributes,
    };
    PyObject *x[X_COUNT];
    if (get_attributes(exchange, names, x, X_COUNT, &exchange_slots) < 0) {
        return NULL;
    }
    PyObject *result = NULL, *fixed = NULL, *variable = NULL, *parameters = NULL, *reasons = NULL;
    PyObject *usage[5] = {NULL, NULL, NULL, NULL, NULL};
    PyObject *first = NULL, *captured = NULL, *response = NULL, *attributes = NULL;
    int llm = PyUnicode_Check(x[X_PROTOCOL]) && PyUnicode_Compare(x[X_PROTOCOL], g_llm) == 0;

    if (llm && x[X_REQUEST] != Py_None) {
        parameters = parameter_values(x[X_REQUEST]);
        if (parameters == NULL) {
            goto done;
        }
    }
    else {
        parameters = Py_NewRef(Py_None);
    }
    int has_reasons = PyObject_IsTrue(x[X_FINISH_REASONS]);
    if (has_reasons < 0) {
        goto done;
    }
    reasons = has_reasons ? PySequence_Tuple(x[X_FINISH_REASONS]) : Py_NewRef(Py_None);
    if (reasons == NULL) {
        goto done;
    }
    fixed = PACK(g_request_shape, x[X_PROTOCOL], x[X_OPERATION], x[X_TARGET], x[X_ROUTE],
                 x[X_STATUS], x[X_BACKEND], x[X_PROVIDER], x[X_STREAM], x[X_RESPONSE_MODEL],
                 reasons, x[X_ERROR_TYPE], parameters);
    if (fixed == NULL || (fixed = interned(fixed, REQUEST_SITE)) == NULL) {
        goto done;
    }

    PyObject *usage_names[5] = {s_input_tokens, s_output_tokens, s_cache_read, s_cache_creation, s_reasoning};
    if (get_attributes(x[X_USAGE], usage_names, usage, 5, &usage_slots) < 0) {
        for (int i = 0; i < 5; i++) {
            usage[i] = NULL;
        }
        goto done;
    }
    if (x[X_FIRST_CHUNK] == Py_None) {
        first = Py_NewRef(Py_None);
    }
    else {
        PyObject *started = PyObject_GetAttr(exchange, s_started);
        if (started == NULL) {
            goto done;
        }
        first = PyNumber_Subtract(x[X_FIRST_CHUNK], started);
        Py_DECREF(started);
        if (first == NULL) {
            goto done;
        }
    }
    int has_attributes = PyObject_IsTrue(x[X_ATTRIBUTES]);
    if (has_attributes < 0) {
        goto done;
    }
    attributes = Py_NewRef(has_attributes ? x[X_ATTRIBUTES] : Py_None);
    if (capture) {
        captured = PyObject_CallOneArg(g_captured, exchange);
        response = PyObject_GetAttr(exchange, llm ? s_response : s_tool_result);
        if (captured == NULL || response == NULL) {
            goto done;
        }
    }
    else {
        captured = Py_NewRef(Py_None);
        response = Py_NewRef(Py_None);
    }
    variable = PACK(x[X_RESPONSE_ID], usage[0], usage[1], usage[2], usage[3], usage[4],
                    first, attributes, captured, response);
    if (variable == NULL) {
        goto done;
    }
    untrack(variable);
    result = PACK(PyTuple_GET_ITEM(span, 0), PyTuple_GET_ITEM(span, 1),
                  PyTuple_GET_ITEM(span, 2), g_server_kind, PyTuple_GET_ITEM(span, 3), end_ns,
                  x[X_ERROR_TYPE] != Py_None ? Py_True : Py_False, PyTuple_GET_ITEM(span, 4),
                  PyTuple_GET_ITEM(span, 5), fixed, variable);
    untrack(result);
done:
    for (int i = 0; i < X_COUNT; i++) {
        Py_DECREF(x[i]);
    }
    for (int i = 0; i < 5; i++) {
        Py_XDECREF(usage[i]);
    }
    Py_XDECREF(parameters);
    Py_XDECREF(reasons);
    Py_XDECREF(fixed);
    Py_XDECREF(first);
    Py_XDECREF(attributes);
    Py_XDECREF(captured);
    Py_XDECREF(response);
    Py_XDECREF(variable);
    return result;
}

static PyObject *
upstream_span(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (!span_arguments(nargs, 6, "upstream_span(exchange, call, parent, span_id, start_ns, end_ns)", args)) {
        return NULL;
    }
    PyObject *exchange = args[0], *call = args[1], *parent = args[2];
    PyObject *exchange_names[3] = {s_protocol, s_operation, s_provider};
    PyObject *call_names[6] = {s_model, s_backend, s_url, s_target, s_status, s_error_type};
    PyObject *x[3], *c[6];
    if (get_attributes(exchange, exchange_names, x, 3, &upstream_exchange_slots) < 0) {
        return NULL;
    }
    if (get_attributes(call, call_names, c, 6, &call_slots) < 0) {
        for (int i = 0; i < 3; i++) {
            Py_DECREF(x[i]);
        }
        return NULL;
    }
    PyObject *result = NULL;
    PyObject *fixed = PACK(g_upstream_shape, x[0], x[1], x[2], c[0], c[1], c[2], c[3], c[4], c[5]);
    if (fixed != NULL && (fixed = interned(fixed, UPSTREAM_SITE)) != NULL) {
        result = PACK(PyTuple_GET_ITEM(parent, 0), args[3], PyTuple_GET_ITEM(parent, 1),
                      g_client_kind, args[4], args[5], c[5] != Py_None ? Py_True : Py_False,
                      Py_False, PyTuple_GET_ITEM(parent, 5), fixed, Py_None);
        untrack(result);
        Py_DECREF(fixed);
    }
    for (int i = 0; i < 3; i++) {
        Py_DECREF(x[i]);
    }
    for (int i = 0; i < 6; i++) {
        Py_DECREF(c[i]);
    }
    return result;
}

/* ---------------------------------------------------------------------------------------------
   Ids. */

/* A non-negative int below 2**64 (kinds, times; TypeError or OverflowError otherwise, as
   PyLong_AsUnsignedLongLong raises them); 0, or -1 with an exception set. On 3.11 an exact int is
   read from its 30-bit digits: PyLong_AsUnsignedLongLong goes through _PyLong_AsByteArray there,
   about 180 instructions a call, for a few ids and times per span. */
static int
as_u64(PyObject *value, uint64_t *out)
{
#if PY_VERSION_HEX < 0x030C0000 && PYLONG_BITS_IN_DIGIT == 30
    if (PyLong_CheckExact(value)) {
        Py_ssize_t size = Py_SIZE(value);
        const digit *d = ((PyLongObject *)value)->ob_digit;
        if (size >= 0 && size <= 2) {
            *out = size == 0 ? 0 : size == 1 ? d[0] : (uint64_t)d[0] | (uint64_t)d[1] << 30;
            return 0;
        }
        if (size == 3 && d[2] < 16) {
            *out = (uint64_t)d[0] | (uint64_t)d[1] << 30 | (uint64_t)d[2] << 60;
            return 0;
        }
    }
#endif
    uint64_t number = PyLong_AsUnsignedLongLong(value);
    if (number == (uint64_t)-1 && PyErr_Occurred()) {
        return -1;
    }
    *out = number;
    return 0;
}

/* The non-negative int `value` as `size` (8 or 16) bytes, big-endian; 0, or -1 (OverflowError when
   it does not fit or is negative, TypeError when it is no int). */
static int
id_bytes(PyObject *value, unsigned char *out, int size)
{
    if (!PyLong_Check(value)) {
        PyErr_SetString(PyExc_TypeError, "a trace or span id must be an int");
        return -1;
    }
    if (size == 8) {
        uint64_t id;
        if (as_u64(value, &id) < 0) {
            return -1;
        }
        for (int i = 0; i < 8; i++) {
            out[7 - i] = (unsigned char)(id >> (8 * i));
        }
        return 0;
    }
#if PY_VERSION_HEX < 0x030C0000 && PYLONG_BITS_IN_DIGIT == 30
    if (PyLong_CheckExact(value) && Py_SIZE(value) >= 0 && Py_SIZE(value) <= 5) {
        /* Up to 150 bits of 30-bit digits, the top one checked to leave 128. */
        Py_ssize_t count = Py_SIZE(value);
        const digit *d = ((PyLongObject *)value)->ob_digit;
        if (count < 5 || d[4] < 256) {
            uint64_t high = 0, low = 0;
            for (Py_ssize_t i = 0; i < count; i++) {
                int shift = 30 * (int)i;
                uint64_t part = d[i];
                if (shift < 64) {
                    low |= part << shift;
                    if (shift + 30 > 64) {
                        high |= part >> (64 - shift);
                    }
                }
                else {
                    high |= part << (shift - 64);
                }
            }
            for (int i = 0; i < 8; i++) {
                out[7 - i] = (unsigned char)(high >> (8 * i));
                out[15 - i] = (unsigned char)(low >> (8 * i));
            }
            return 0;
        }
    }
#endif
#if PY_VERSION_HEX >= 0x030D0000
    Py_ssize_t needed = PyLong_AsNativeBytes(
        value, out, size,
        Py_ASNATIVEBYTES_BIG_ENDIAN | Py_ASNATIVEBYTES_UNSIGNED_BUFFER | Py_ASNATIVEBYTES_REJECT_NEGATIVE);
    if (needed < 0) {
        return -1;
    }
    if (needed > size) {
        PyErr_SetString(PyExc_OverflowError, "a trace id must fit in 16 bytes");
        return -1;
    }
    return 0;
#else
    return _PyLong_AsByteArray((PyLongObject *)value, out, (size_t)size, 0, 0);
#endif
}

static const char HEX[] = "0123456789abcdef";

static PyObject *
traceparent(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "traceparent(trace_id, span_id)");
        return NULL;
    }
    unsigned char ids[24];
    if (id_bytes(args[0], ids, 16) < 0 || id_bytes(args[1], ids + 16, 8) < 0) {
        return NULL;
    }
    char text[55];
    memcpy(text, "00-", 3);
    for (int i = 0; i < 16; i++) {
        text[3 + 2 * i] = HEX[ids[i] >> 4];
        text[4 + 2 * i] = HEX[ids[i] & 15];
    }
    text[35] = '-';
    for (int i = 0; i < 8; i++) {
        text[36 + 2 * i] = HEX[ids[16 + i] >> 4];
        text[37 + 2 * i] = HEX[ids[16 + i] & 15];
    }
    memcpy(text + 52, "-01", 3);
    return PyUnicode_FromStringAndSize(text, 55);
}

/* ---------------------------------------------------------------------------------------------
   The protobuf wire format (otlp.py). */

typedef struct {
    unsigned char *data;
    Py_ssize_t len;
    Py_ssize_t cap;
} Buffer;

static int
reserve(Buffer *b, Py_ssize_t extra)
{
    if (b->len + extra <= b->cap) {
        return 0;
    }
    Py_ssize_t cap = b->cap ? b->cap * 2 : 4096;
    while (cap < b->len + extra) {
        cap *= 2;
    }
    unsigned char *data = PyMem_Realloc(b->data, (size_t)cap);
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

static int
varint_size(uint64_t value)
{
    int size = 1;
    while (value >= 0x80) {
        value >>= 7;
        size++;
    }
    return size;
}

/* The put_* helpers assume the room was reserved. */
static inline void
put_varint(Buffer *b, uint64_t value)
{
    while (value >= 0x80) {
        b->data[b->len++] = (unsigned char)(value | 0x80);
        value >>= 7;
    }
    b->data[b->len++] = (unsigned char)value;
}

static inline void
put(Buffer *b, const void *data, Py_ssize_t size)
{
    memcpy(b->data + b->len, data, (size_t)size);
    b->len += size;
}

static inline void
put_le(Buffer *b, uint64_t value, int size)
{
    for (int i = 0; i < size; i++) {
        b->data[b->len++] = (unsigned char)(value >> (8 * i));
    }
}

/* Field tags and constants, as otlp.py writes them. */
#define SPAN_ATTRIBUTE 0x4a /* Span.attributes (9), length-delimited */
#define KEY_VALUE_VALUE 0x12 /* KeyValue.value (2) */
#define HAS_IS_REMOTE 0x100
#define IS_REMOTE 0x200

/* A Span.attributes field's tag, length, key (the encoded KeyValue.key field) and KeyValue.value
   tag and length, with room reserved for the `value_size` bytes of the AnyValue that follows. */
static int
put_attribute_head(Buffer *b, PyObject *key, Py_ssize_t value_size)
{
    Py_ssize_t key_size = PyBytes_GET_SIZE(key);
    Py_ssize_t key_value = key_size + 1 + varint_size((uint64_t)value_size) + value_size;
    if (reserve(b, 1 + 10 + key_value) < 0) {
        return -1;
    }
    b->data[b->len++] = SPAN_ATTRIBUTE;
    put_varint(b, (uint64_t)key_value);
    put(b, PyBytes_AS_STRING(key), key_size);
    b->data[b->len++] = KEY_VALUE_VALUE;
    put_varint(b, (uint64_t)value_size);
    return 0;
}

/* A Span.attributes field whose AnyValue is `value`. */
static int
put_attribute(Buffer *b, PyObject *key, const unsigned char *value, Py_ssize_t value_size)
{
    if (put_attribute_head(b, key, value_size) < 0) {
        return -1;
    }
    put(b, value, value_size);
    return 0;
}

/* One variable attribute (otlp._span_attribute): ints, strings, floats and bools here; 1 when the
   value is of another type (the caller asks Python), 0 when written, -1 on error. */
static int
put_value(Buffer *b, PyObject *key, PyObject *value)
{
    unsigned char small[11];
    if (PyLong_CheckExact(value)) {
        uint64_t number = PyLong_AsUnsignedLongLongMask(value);
        if (number == (uint64_t)-1 && PyErr_Occurred()) {
            return -1;
        }
        Buffer any = {small, 0, sizeof small};
        any.data[any.len++] = 0x18; /* AnyValue.int_value (3) */
        put_varint(&any, number);
        return put_attribute(b, key, small, any.len);
    }
    if (PyUnicode_CheckExact(value)) {
        Py_ssize_t size;
        const char *text = PyUnicode_AsUTF8AndSize(value, &size);
        if (text == NULL) {
            return -1;
        }
        Py_ssize_t any = 1 + varint_size((uint64_t)size) + size; /* AnyValue.string_value (1) */
        if (put_attribute_head(b, key, any) < 0) {
            return -1;
        }
        b->data[b->len++] = 0x0a;
        put_varint(b, (uint64_t)size);
        put(b, text, size);
        return 0;
    }
    if (PyFloat_CheckExact(value)) {
        double number = PyFloat_AS_DOUBLE(value);
        uint64_t bits;
        memcpy(&bits, &number, 8);
        small[0] = 0x21; /* AnyValue.double_value (4), fixed64 */
        for (int i = 0; i < 8; i++) {
            small[1 + i] = (unsigned char)(bits >> (8 * i));
        }
        return put_attribute(b, key, small, 9);
    }
    if (PyBool_Check(value)) {
        small[0] = 0x10; /* AnyValue.bool_value (2) */
        small[1] = value == Py_True;
        return put_attribute(b, key, small, 2);
    }
    return 1;
}

/* Append the bytes object `encoded` (a call's result; released here). */
static int
put_result(Buffer *b, PyObject *encoded)
{
    if (encoded == NULL) {
        return -1;
    }
    if (!PyBytes_Check(encoded)) {
        Py_DECREF(encoded);
        PyErr_SetString(PyExc_TypeError, "an attribute encoder must return bytes");
        return -1;
    }
    int failed = reserve(b, PyBytes_GET_SIZE(encoded));
    if (!failed) {
        put(b, PyBytes_AS_STRING(encoded), PyBytes_GET_SIZE(encoded));
    }
    Py_DECREF(encoded);
    return failed ? -1 : 0;
}

typedef struct {
    PyObject *entries;   /* dict: id(fixed) -> entry */
    PyObject *new_entry; /* fixed -> entry (and stored in entries) */
    PyObject *attribute; /* (name, value) -> bytes: otlp._span_attribute */
    PyObject *rest;      /* (shape, variable) -> bytes: the shape's variable_attributes, encoded */
} Encoders;

/* An entry: (fixed, block, keys, names, shape): the `fixed` value, its span name and attributes
   encoded, the encoded KeyValue.key fields of its shape's variable_names, the names, the shape. */
static PyObject *
entry_of(Encoders *encoders, PyObject *fixed)
{
    PyObject *id = PyLong_FromVoidPtr(fixed);
    if (id == NULL) {
        return NULL;
    }
    PyObject *entry = PyDict_GetItemWithError(encoders->entries, id);
    Py_DECREF(id);
    if (entry != NULL && PyTuple_Check(entry) && PyTuple_GET_SIZE(entry) == 5 &&
        PyTuple_GET_ITEM(entry, 0) == fixed) {
        return Py_NewRef(entry);
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    entry = PyObject_CallOneArg(encoders->new_entry, fixed);
    if (entry != NULL && !(PyTuple_Check(entry) && PyTuple_GET_SIZE(entry) == 5 &&
                           PyBytes_Check(PyTuple_GET_ITEM(entry, 1)) &&
                           PyTuple_Check(PyTuple_GET_ITEM(entry, 2)) &&
                           PyTuple_Check(PyTuple_GET_ITEM(entry, 3)))) {
        Py_DECREF(entry);
        PyErr_SetString(PyExc_TypeError, "new_entry must return (fixed, block, keys, names, shape)");
        return NULL;
    }
    if (entry != NULL) {
        PyObject *keys = PyTuple_GET_ITEM(entry, 2);
        int valid = PyTuple_GET_SIZE(keys) == PyTuple_GET_SIZE(PyTuple_GET_ITEM(entry, 3));
        for (Py_ssize_t i = 0; valid && i < PyTuple_GET_SIZE(keys); i++) {
            valid = PyBytes_Check(PyTuple_GET_ITEM(keys, i));
        }
        if (!valid) {
            Py_DECREF(entry);
            PyErr_SetString(PyExc_TypeError, "an entry's keys must be bytes, one per name");
            return NULL;
        }
    }
    return entry;
}

/* One span's fields (a Span message's content) into `b`. */
static int
put_span(Buffer *b, Encoders *encoders, PyObject *span)
{
    if (!PyTuple_Check(span) || PyTuple_GET_SIZE(span) != 11) {
        PyErr_SetString(PyExc_TypeError, "a span must be an 11-tuple (FrozenSpan)");
        return -1;
    }
    PyObject *parent = PyTuple_GET_ITEM(span, 2), *trace_state = PyTuple_GET_ITEM(span, 8);
    PyObject *fixed = PyTuple_GET_ITEM(span, 9), *variable = PyTuple_GET_ITEM(span, 10);
    unsigned char ids[32];
    if (id_bytes(PyTuple_GET_ITEM(span, 0), ids, 16) < 0 || id_bytes(PyTuple_GET_ITEM(span, 1), ids + 16, 8) < 0 ||
        (parent != Py_None && id_bytes(parent, ids + 24, 8) < 0)) {
        return -1;
    }
    uint64_t kind, start, end;
    if (as_u64(PyTuple_GET_ITEM(span, 3), &kind) < 0 || as_u64(PyTuple_GET_ITEM(span, 4), &start) < 0 ||
        as_u64(PyTuple_GET_ITEM(span, 5), &end) < 0) {
        return -1;
    }
    int error = PyObject_IsTrue(PyTuple_GET_ITEM(span, 6));
    int remote = PyObject_IsTrue(PyTuple_GET_ITEM(span, 7));
    int has_state = PyObject_IsTrue(trace_state);
    int has_variable = PyObject_IsTrue(variable);
    if (error < 0 || remote < 0 || has_state < 0 || has_variable < 0) {
        return -1;
    }
    PyObject *entry = entry_of(encoders, fixed);
    if (entry == NULL) {
        return -1;
    }
    PyObject *block = PyTuple_GET_ITEM(entry, 1), *keys = PyTuple_GET_ITEM(entry, 2);
    PyObject *names = PyTuple_GET_ITEM(entry, 3), *shape = PyTuple_GET_ITEM(entry, 4);
    int failed = -1;
    if (reserve(b, 18 + 10 + 10 + 11 + 18 + 7 + PyBytes_GET_SIZE(block)) < 0) {
        goto done;
    }
    b->data[b->len++] = 0x0a; /* trace_id (1) */
    b->data[b->len++] = 0x10;
    put(b, ids, 16);
    b->data[b->len++] = 0x12; /* span_id (2) */
    b->data[b->len++] = 0x08;
    put(b, ids + 16, 8);
    if (parent != Py_None) {
        b->data[b->len++] = 0x22; /* parent_span_id (4) */
        b->data[b->len++] = 0x08;
        put(b, ids + 24, 8);
    }
    b->data[b->len++] = 0x30; /* kind (6) */
    put_varint(b, kind);
    b->data[b->len++] = 0x39; /* start_time_unix_nano (7), fixed64 */
    put_le(b, start, 8);
    b->data[b->len++] = 0x41; /* end_time_unix_nano (8), fixed64 */
    put_le(b, end, 8);
    b->data[b->len++] = 0x85; /* flags (16), fixed32 */
    b->data[b->len++] = 0x01;
    put_le(b, 0x01 | HAS_IS_REMOTE | (parent != Py_None && remote ? IS_REMOTE : 0), 4);
    put(b, PyBytes_AS_STRING(block), PyBytes_GET_SIZE(block));
    if (has_state) {
        Py_ssize_t size;
        const char *text = PyUnicode_AsUTF8AndSize(trace_state, &size);
        if (text == NULL || reserve(b, 11 + size) < 0) {
            goto done;
        }
        b->data[b->len++] = 0x1a; /* trace_state (3) */
        put_varint(b, (uint64_t)size);
        put(b, text, size);
    }
    if (has_variable) {
        Py_ssize_t count = PyTuple_GET_SIZE(keys);
        int rest = count == 0;
        if (count) {
            if (!PyTuple_Check(variable)) {
                PyErr_SetString(PyExc_TypeError, "a span's variable values must be a tuple");
                goto done;
            }
            Py_ssize_t size = PyTuple_GET_SIZE(variable);
            for (Py_ssize_t i = 0; i < count && i < size; i++) {
                PyObject *value = PyTuple_GET_ITEM(variable, i);
                if (value == Py_None) {
                    continue;
                }
                int written = put_value(b, PyTuple_GET_ITEM(keys, i), value);
                if (written < 0) {
                    goto done;
                }
                if (written > 0 &&
                    put_result(b, PyObject_CallFunctionObjArgs(encoders->attribute, PyTuple_GET_ITEM(names, i),
                                                               value, NULL)) < 0) {
                    goto done;
                }
            }
            for (Py_ssize_t i = count; i < size && !rest; i++) {
                rest = PyObject_IsTrue(PyTuple_GET_ITEM(variable, i));
                if (rest < 0) {
                    goto done;
                }
            }
        }
        if (rest && put_result(b, PyObject_CallFunctionObjArgs(encoders->rest, shape, variable, NULL)) < 0) {
            goto done;
        }
    }
    if (error) {
        static const unsigned char status[] = {0x7a, 0x02, 0x18, 0x02}; /* status (15): code ERROR */
        if (reserve(b, 4) < 0) {
            goto done;
        }
        put(b, status, 4);
    }
    failed = 0;
done:
    Py_DECREF(entry);
    return failed;
}

static Buffer g_out_buffer, g_span_buffer; /* encode_request's buffers, kept between batches */
static int g_encoding;       /* they are in use */
static const Py_ssize_t g_keep_cap = 4 << 20;

static PyObject *
encode_request(PyObject *module, PyObject *args)
{
    PyObject *resource, *scope, *spans;
    Encoders encoders;
    if (!PyArg_ParseTuple(args, "SSO!O!OOO", &resource, &scope, &PyList_Type, &spans, &PyDict_Type,
                          &encoders.entries, &encoders.new_entry, &encoders.attribute, &encoders.rest)) {
        return NULL;
    }
    /* The buffers are kept from one batch to the next (a batch is ~250 KB: growing them from
       nothing each time copied and touched about twice that), unless a callback into Python
       encodes meanwhile, or they grew past g_keep_cap (a batch with captured content). */
    int kept = !g_encoding;
    Buffer out = {NULL, 0, 0}, one = {NULL, 0, 0};
    if (kept) {
        g_encoding = 1;
        out = g_out_buffer;
        one = g_span_buffer;
        out.len = 0;
    }
    PyObject *result = NULL;
    Py_INCREF(spans); /* a callback into Python could change the list: hold it */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(spans); i++) {
        PyObject *span = Py_NewRef(PyList_GET_ITEM(spans, i));
        one.len = 0;
        int failed = put_span(&one, &encoders, span);
        Py_DECREF(span);
        if (failed < 0 || reserve(&out, 11 + one.len) < 0) {
            goto done;
        }
        out.data[out.len++] = 0x12; /* ScopeSpans.spans (2) */
        put_varint(&out, (uint64_t)one.len);
        put(&out, one.data, one.len);
    }
    /* ExportTraceServiceRequest.resource_spans (1): ResourceSpans { resource (1, given encoded),
       scope_spans (2): ScopeSpans { scope (1, given encoded), spans } } */
    Py_ssize_t scope_spans = PyBytes_GET_SIZE(scope) + out.len;
    Py_ssize_t resource_spans = PyBytes_GET_SIZE(resource) + 1 + varint_size((uint64_t)scope_spans) + scope_spans;
    Py_ssize_t total = 1 + varint_size((uint64_t)resource_spans) + resource_spans;
    result = PyBytes_FromStringAndSize(NULL, total);
    if (result == NULL) {
        goto done;
    }
    Buffer whole = {(unsigned char *)PyBytes_AS_STRING(result), 0, total};
    whole.data[whole.len++] = 0x0a;
    put_varint(&whole, (uint64_t)resource_spans);
    put(&whole, PyBytes_AS_STRING(resource), PyBytes_GET_SIZE(resource));
    whole.data[whole.len++] = 0x12;
    put_varint(&whole, (uint64_t)scope_spans);
    put(&whole, PyBytes_AS_STRING(scope), PyBytes_GET_SIZE(scope));
    if (out.len) {
        put(&whole, out.data, out.len);
    }
done:
    Py_DECREF(spans);
    if (kept && out.cap <= g_keep_cap && one.cap <= g_keep_cap) {
        g_out_buffer = out;
        g_span_buffer = one;
    }
    else {
        if (kept) {
            g_out_buffer = (Buffer){NULL, 0, 0};
            g_span_buffer = (Buffer){NULL, 0, 0};
        }
        PyMem_Free(out.data);
        PyMem_Free(one.data);
    }
    if (kept) {
        g_encoding = 0;
    }
    return result;
}

/* --------------------------------------------------------------------------------------------- */

/* ---------------------------------------------------------------------------------------------
   Metrics (metrics.py, observer.py): a histogram series, an LLM request's records, a count. */

/* metrics.HistogramSeriesPy: bucket counts, sum, min and max of one series. */
typedef struct {
    PyObject_HEAD
    PyObject *bounds; /* the tuple given */
    Py_ssize_t size;  /* its length */
    double *edges;    /* its values */
    long long *counts; /* size + 1 buckets */
    double sum, min, max;
} SeriesObject;

static PyTypeObject Series_Type;

static int
series_init(SeriesObject *self, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"bounds", NULL};
    PyObject *bounds;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!:HistogramSeries", keywords, &PyTuple_Type, &bounds)) {
        return -1;
    }
    Py_ssize_t size = PyTuple_GET_SIZE(bounds);
    double *edges = PyMem_Malloc((size_t)(size ? size : 1) * sizeof(double));
    long long *counts = PyMem_Calloc((size_t)size + 1, sizeof(long long));
    if (edges == NULL || counts == NULL) {
        PyMem_Free(edges);
        PyMem_Free(counts);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < size; i++) {
        edges[i] = PyFloat_AsDouble(PyTuple_GET_ITEM(bounds, i));
        if (edges[i] == -1.0 && PyErr_Occurred()) {
            PyMem_Free(edges);
            PyMem_Free(counts);
            return -1;
        }
    }
    PyMem_Free(self->edges);
    PyMem_Free(self->counts);
    Py_XSETREF(self->bounds, Py_NewRef(bounds));
    self->size = size;
    self->edges = edges;
    self->counts = counts;
    self->sum = 0.0;
    self->min = Py_HUGE_VAL;
    self->max = -Py_HUGE_VAL;
    return 0;
}

static void
series_dealloc(SeriesObject *self)
{
    Py_XDECREF(self->bounds);
    PyMem_Free(self->edges);
    PyMem_Free(self->counts);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* One value: bisect_left's bucket (the first bound not below it), then sum, min and max. */
static void
series_add(SeriesObject *self, double value)
{
    Py_ssize_t low = 0, high = self->size;
    while (low < high) {
        Py_ssize_t middle = (low + high) / 2;
        if (self->edges[middle] < value) {
            low = middle + 1;
        }
        else {
            high = middle;
        }
    }
    self->counts[low]++;
    self->sum += value;
    if (value < self->min) {
        self->min = value;
    }
    if (value > self->max) {
        self->max = value;
    }
}

/* A recorded value as a double: an int (a bool too) or a float; 0, or -1 with TypeError or
   OverflowError as the Python series' arithmetic raises them. */
static int
number_of(PyObject *value, double *out)
{
    if (PyFloat_Check(value)) {
        *out = PyFloat_AS_DOUBLE(value);
        return 0;
    }
    if (PyLong_Check(value)) {
        *out = PyLong_AsDouble(value);
        return *out == -1.0 && PyErr_Occurred() ? -1 : 0;
    }
    PyErr_Format(PyExc_TypeError, "a histogram records an int or a float, not %.100s", Py_TYPE(value)->tp_name);
    return -1;
}

static PyObject *
series_record(SeriesObject *self, PyObject *value)
{
    double number;
    if (self->counts == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "HistogramSeries.__init__ was not called");
        return NULL;
    }
    if (number_of(value, &number) < 0) {
        return NULL;
    }
    series_add(self, number);
    Py_RETURN_NONE;
}

static PyObject *
series_counts(SeriesObject *self, void *closure)
{
    PyObject *counts = PyList_New(self->counts == NULL ? 0 : self->size + 1);
    for (Py_ssize_t i = 0; counts != NULL && self->counts != NULL && i <= self->size; i++) {
        PyObject *count = PyLong_FromLongLong(self->counts[i]);
        if (count == NULL) {
            Py_CLEAR(counts);
            break;
        }
        PyList_SET_ITEM(counts, i, count);
    }
    return counts;
}

static PyObject *
series_count(SeriesObject *self, void *closure)
{
    long long total = 0;
    for (Py_ssize_t i = 0; self->counts != NULL && i <= self->size; i++) {
        total += self->counts[i];
    }
    return PyLong_FromLongLong(total);
}

static PyObject *
series_bounds(SeriesObject *self, void *closure)
{
    return Py_NewRef(self->bounds != NULL ? self->bounds : Py_None);
}

static PyObject *
series_sum(SeriesObject *self, void *closure)
{
    return PyFloat_FromDouble(self->sum);
}

static PyObject *
series_min(SeriesObject *self, void *closure)
{
    return PyFloat_FromDouble(self->min);
}

static PyObject *
series_max(SeriesObject *self, void *closure)
{
    return PyFloat_FromDouble(self->max);
}

static PyMethodDef series_methods[] = {
    {"record", (PyCFunction)series_record, METH_O, "record(value): one value (an int or a float)."},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef series_getset[] = {
    {"bounds", (getter)series_bounds, NULL, "The upper bounds of the buckets but the last.", NULL},
    {"counts", (getter)series_counts, NULL, "The count of each bucket (a new list).", NULL},
    {"count", (getter)series_count, NULL, "How many values were recorded.", NULL},
    {"sum", (getter)series_sum, NULL, "Their sum.", NULL},
    {"min", (getter)series_min, NULL, "The least (inf before any).", NULL},
    {"max", (getter)series_max, NULL, "The greatest (-inf before any).", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject Series_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "agentgw.telemetry._speedups.HistogramSeries",
    .tp_basicsize = sizeof(SeriesObject),
    .tp_dealloc = (destructor)series_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "metrics.HistogramSeriesPy in C: one series of an explicit-bucket histogram.",
    .tp_methods = series_methods,
    .tp_getset = series_getset,
    .tp_init = (initproc)series_init,
    .tp_new = PyType_GenericNew,
};

static PyObject *s_llm_duration, *s_llm_input, *s_llm_output, *s_llm_first_chunk, *s_team, *s_ended;
static PyObject *g_one;

/* Dict lookups and stores given the key's hash: a tuple of labels does not keep its hash, and
   hashing one costs more than the lookup. */
#if PY_VERSION_HEX < 0x030D0000
#define GET_KNOWN_HASH(dict, key, hash) _PyDict_GetItem_KnownHash(dict, key, hash)
#define SET_KNOWN_HASH(dict, key, value, hash) _PyDict_SetItem_KnownHash(dict, key, value, hash)
#else
#define GET_KNOWN_HASH(dict, key, hash) PyDict_GetItemWithError(dict, key)
#define SET_KNOWN_HASH(dict, key, value, hash) PyDict_SetItem(dict, key, value)
#endif

/* series[labels] += 1 when `labels` has a count already; 1, 0 when it has none (the caller's
   Counter.add makes it, minding the series limit), -1 on error. */
static int
count_existing(PyObject *series, PyObject *labels)
{
    Py_hash_t hash = PyObject_Hash(labels);
    if (hash == -1) {
        return -1;
    }
    PyObject *count = GET_KNOWN_HASH(series, labels, hash); /* borrowed */
    if (count == NULL) {
        return PyErr_Occurred() ? -1 : 0;
    }
    PyObject *next = PyNumber_Add(count, g_one);
    if (next == NULL) {
        return -1;
    }
    int failed = SET_KNOWN_HASH(series, labels, next, hash);
    Py_DECREF(next);
    return failed < 0 ? -1 : 1;
}

static PyObject *
count(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyDict_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "count(series: dict, labels)");
        return NULL;
    }
    int counted = count_existing(args[0], args[1]);
    return counted < 0 ? NULL : PyBool_FromLong(counted);
}

enum {
    M_PROTOCOL, M_ERROR_TYPE, M_ROUTE, M_STATUS, M_TEAM, M_OPERATION, M_PROVIDER, M_TARGET,
    M_RESPONSE_MODEL, M_USAGE, M_FIRST_CHUNK, M_STARTED, M_ENDED, M_COUNT
};

static Slots metric_slots, metric_usage_slots, llm_series_slots, upstream_count_slots;

static void
release(PyObject **items, int count)
{
    for (int i = 0; i < count; i++) {
        Py_XDECREF(items[i]);
    }
}

/* The last LLM request record_llm recorded: its dicts, its labels tuple and that tuple's hash, its
   group's key and the group. A request with the same label values (str, tuple and float compared
   in C: fast_equal) reuses them: no tuple to pack and hash, no group to look up by a key whose
   model names are new strings each request (record_llm went from 4.0k instructions a request to
   2.4k). A group, once in MetricSet.llm, stays there, and the cache holds the dicts it was found
   in. */
static struct {
    PyObject *requests, *groups, *labels, *key, *group;
    Py_hash_t labels_hash;
} g_last_llm;

/* The items are those of a tuple: 1, 0, or -1 with an exception set. */
static int
items_equal(PyObject *tuple, PyObject **items, Py_ssize_t count)
{
    for (Py_ssize_t i = 0; i < count; i++) {
        int same = fast_equal(PyTuple_GET_ITEM(tuple, i), items[i], 0);
        if (same <= 0) {
            return same;
        }
    }
    return 1;
}

static int
last_llm_matches(PyObject *requests, PyObject *groups, PyObject **label_items, PyObject **key_items)
{
    if (g_last_llm.requests != requests || g_last_llm.groups != groups) {
        return 0;
    }
    int same = items_equal(g_last_llm.labels, label_items, 5);
    return same <= 0 ? same : items_equal(g_last_llm.key, key_items, 5);
}

static void
remember_llm(PyObject *requests, PyObject *groups, PyObject *labels, Py_hash_t labels_hash, PyObject *key,
             PyObject *group)
{
    /* All set before the old ones are released (a release may run code that records). */
    PyObject *old[5] = {g_last_llm.requests, g_last_llm.groups, g_last_llm.labels, g_last_llm.key,
                        g_last_llm.group};
    g_last_llm.requests = Py_NewRef(requests);
    g_last_llm.groups = Py_NewRef(groups);
    g_last_llm.labels = Py_NewRef(labels);
    g_last_llm.key = Py_NewRef(key);
    g_last_llm.group = Py_NewRef(group);
    g_last_llm.labels_hash = labels_hash;
    release(old, 5);
}

/* observer._record_metrics for an LLM exchange whose series all exist (every request after the
   first of its labels): True when recorded; False, having changed nothing, when Python is to
   record it (another protocol, a series to make, a value of another type). */
static PyObject *
record_llm(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyDict_CheckExact(args[0]) || !PyDict_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "record_llm(requests: dict, llm: dict, exchange)");
        return NULL;
    }
    PyObject *requests = args[0], *groups = args[1], *exchange = args[2];
    PyObject *names[M_COUNT] = {
        s_protocol, s_error_type, s_route, s_status, s_team, s_operation, s_provider, s_target,
        s_response_model, s_usage, s_first_chunk, s_started, s_ended,
    };
    PyObject *x[M_COUNT];
    if (get_attributes(exchange, names, x, M_COUNT, &metric_slots) < 0) {
        return NULL;
    }
    PyObject *result = NULL, *labels = NULL, *key = NULL, *count = NULL;
    PyObject *tokens[2] = {NULL, NULL}, *series[4] = {NULL, NULL, NULL, NULL};
    int llm = PyUnicode_CheckExact(x[M_PROTOCOL]) && PyUnicode_Compare(x[M_PROTOCOL], g_llm) == 0;
    if (!llm || !PyFloat_CheckExact(x[M_STARTED]) || !PyFloat_CheckExact(x[M_ENDED]) ||
        (x[M_FIRST_CHUNK] != Py_None && !PyFloat_CheckExact(x[M_FIRST_CHUNK]))) {
        result = Py_NewRef(Py_False);
        goto done;
    }
    PyObject *label_items[5] = {x[M_PROTOCOL], x[M_ROUTE], x[M_STATUS], x[M_TEAM], x[M_ERROR_TYPE]};
    PyObject *key_items[5] = {x[M_OPERATION], x[M_PROVIDER], x[M_TARGET], x[M_RESPONSE_MODEL], x[M_ERROR_TYPE]};
    Py_hash_t labels_hash;
    PyObject *group; /* held below */
    int same = last_llm_matches(requests, groups, label_items, key_items);
    if (same < 0) {
        goto done;
    }
    if (same) { /* the labels of the last request recorded: its tuple, hash and group */
        labels = Py_NewRef(g_last_llm.labels);
        labels_hash = g_last_llm.labels_hash;
        group = Py_NewRef(g_last_llm.group);
    }
    else {
        labels = pack(5, label_items);
        key = pack(5, key_items);
        if (labels == NULL || key == NULL || (labels_hash = PyObject_Hash(labels)) == -1) {
            goto done;
        }
        group = PyDict_GetItemWithError(groups, key); /* borrowed */
        if (group == NULL) {
            result = PyErr_Occurred() ? NULL : Py_NewRef(Py_False);
            goto done;
        }
        Py_INCREF(group);
    }
    PyObject *found = GET_KNOWN_HASH(requests, labels, labels_hash); /* borrowed */
    if (found == NULL) {
        Py_DECREF(group);
        result = PyErr_Occurred() ? NULL : Py_NewRef(Py_False);
        goto done;
    }
    if (!same) {
        remember_llm(requests, groups, labels, labels_hash, key, group);
    }
    count = Py_NewRef(found);
    PyObject *series_names[4] = {s_llm_duration, s_llm_input, s_llm_output, s_llm_first_chunk};
    /* The group is held while its attributes are read: a getattr may run Python code. */
    int read = get_attributes(group, series_names, series, 4, &llm_series_slots);
    Py_DECREF(group); /* the series read are held */
    if (read < 0) {
        for (int i = 0; i < 4; i++) {
            series[i] = NULL;
        }
        goto done;
    }
    PyObject *usage_names[2] = {s_input_tokens, s_output_tokens};
    if (get_attributes(x[M_USAGE], usage_names, tokens, 2, &metric_usage_slots) < 0) {
        tokens[0] = tokens[1] = NULL;
        goto done;
    }
    /* Every value and the series it goes to first, so that Python records all or C does. */
    PyObject *values[4] = {NULL, tokens[0], tokens[1], x[M_FIRST_CHUNK]};
    double numbers[4];
    numbers[0] = PyFloat_AS_DOUBLE(x[M_ENDED]) - PyFloat_AS_DOUBLE(x[M_STARTED]);
    if (values[3] != Py_None) {
        numbers[3] = PyFloat_AS_DOUBLE(values[3]) - PyFloat_AS_DOUBLE(x[M_STARTED]);
    }
    for (int i = 0; i < 4; i++) {
        int present = i == 0 || values[i] != Py_None;
        if (present && !Py_IS_TYPE(series[i], &Series_Type)) {
            result = Py_NewRef(Py_False);
            goto done;
        }
        if (present && (i == 1 || i == 2)) {
            if (!PyLong_CheckExact(values[i]) && !PyFloat_CheckExact(values[i])) {
                result = Py_NewRef(Py_False);
                goto done;
            }
            if (number_of(values[i], &numbers[i]) < 0) { /* too large for a float: Python raises */
                PyErr_Clear();
                result = Py_NewRef(Py_False);
                goto done;
            }
        }
    }
    PyObject *next = PyNumber_Add(count, g_one);
    if (next == NULL || SET_KNOWN_HASH(requests, labels, next, labels_hash) < 0) {
        Py_XDECREF(next);
        goto done;
    }
    Py_DECREF(next);
    for (int i = 0; i < 4; i++) {
        if (i == 0 || values[i] != Py_None) {
            series_add((SeriesObject *)series[i], numbers[i]);
        }
    }
    result = Py_NewRef(Py_True);
done:
    for (int i = 0; i < M_COUNT; i++) {
        Py_DECREF(x[i]);
    }
    for (int i = 0; i < 2; i++) {
        Py_XDECREF(tokens[i]);
    }
    for (int i = 0; i < 4; i++) {
        Py_XDECREF(series[i]);
    }
    Py_XDECREF(labels);
    Py_XDECREF(key);
    Py_XDECREF(count);
    return result;
}

/* ---------------------------------------------------------------------------------------------
   The observer's hooks (observer.TelemetryObserver) for LLM exchanges, in C: no Python frame runs
   for telemetry on the common path. Anything else (other protocols, a client's traceparent,
   sampling below 1, content capture, the access log, a series to make) is handed to the Python
   methods, which stay the reference. */

typedef struct {
    PyObject_HEAD
    PyObject *observer;                                     /* the TelemetryObserver */
    PyObject *start_py, *upstream_start_py, *upstream_end_py, *end_py; /* its class's methods */
    PyObject *spans_add;        /* SpanSink.add, or None */
    PyObject *metrics;          /* MetricSet, or None */
    PyObject *requests, *llm, *upstream; /* its requests' and upstream calls' counts, its LLM groups */
    PyObject *upstream_add;     /* Counter.add of the upstream calls */
    PyObject *record_metrics;   /* observer._record_metrics */
    PyObject *random_bits, *time_ns;
    int sample_all, capture, access_log;
} HooksObject;

static PyObject *s_state, *s_headers, *s_started_at, *s_telemetry, *s_traceparent_header, *s_tracestate;
static PyObject *g_empty;
static Slots hook_slots, hook_call_slots;

static int
hooks_init(HooksObject *self, PyObject *args, PyObject *kwds)
{
    PyObject *o, *start, *ustart, *uend, *end, *add, *metrics, *record, *bits, *clock;
    int sample_all, capture, access_log;
    if (!PyArg_ParseTuple(args, "OOOOOOOOOOppp:Hooks", &o, &start, &ustart, &uend, &end, &add, &metrics,
                          &record, &bits, &clock, &sample_all, &capture, &access_log)) {
        return -1;
    }
    PyObject *requests = NULL, *llm = NULL, *upstream = NULL, *upstream_add = NULL;
    if (metrics != Py_None) {
        PyObject *counter = PyObject_GetAttrString(metrics, "requests");
        PyObject *upstream_counter = counter ? PyObject_GetAttrString(metrics, "upstream_requests") : NULL;
        requests = counter ? PyObject_GetAttrString(counter, "series") : NULL;
        upstream = upstream_counter ? PyObject_GetAttrString(upstream_counter, "series") : NULL;
        upstream_add = upstream_counter ? PyObject_GetAttrString(upstream_counter, "add") : NULL;
        llm = PyObject_GetAttrString(metrics, "llm");
        Py_XDECREF(counter);
        Py_XDECREF(upstream_counter);
        if (!requests || !upstream || !upstream_add || !llm || !PyDict_CheckExact(requests) ||
            !PyDict_CheckExact(upstream) || !PyDict_CheckExact(llm)) {
            Py_XDECREF(requests);
            Py_XDECREF(upstream);
            Py_XDECREF(upstream_add);
            Py_XDECREF(llm);
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_TypeError, "Hooks: the metric set's series must be dicts");
            }
            return -1;
        }
    }
    Py_XSETREF(self->observer, Py_NewRef(o));
    Py_XSETREF(self->start_py, Py_NewRef(start));
    Py_XSETREF(self->upstream_start_py, Py_NewRef(ustart));
    Py_XSETREF(self->upstream_end_py, Py_NewRef(uend));
    Py_XSETREF(self->end_py, Py_NewRef(end));
    Py_XSETREF(self->spans_add, Py_NewRef(add));
    Py_XSETREF(self->metrics, Py_NewRef(metrics));
    Py_XSETREF(self->record_metrics, Py_NewRef(record));
    Py_XSETREF(self->random_bits, Py_NewRef(bits));
    Py_XSETREF(self->time_ns, Py_NewRef(clock));
    Py_XSETREF(self->requests, requests);
    Py_XSETREF(self->upstream, upstream);
    Py_XSETREF(self->upstream_add, upstream_add);
    Py_XSETREF(self->llm, llm);
    self->sample_all = sample_all;
    self->capture = capture;
    self->access_log = access_log;
    return 0;
}

static int
hooks_traverse(HooksObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->observer);
    Py_VISIT(self->start_py);
    Py_VISIT(self->upstream_start_py);
    Py_VISIT(self->upstream_end_py);
    Py_VISIT(self->end_py);
    Py_VISIT(self->spans_add);
    Py_VISIT(self->metrics);
    Py_VISIT(self->requests);
    Py_VISIT(self->llm);
    Py_VISIT(self->upstream);
    Py_VISIT(self->upstream_add);
    Py_VISIT(self->record_metrics);
    Py_VISIT(self->random_bits);
    Py_VISIT(self->time_ns);
    return 0;
}

static int
hooks_clear(HooksObject *self)
{
    Py_CLEAR(self->observer);
    Py_CLEAR(self->start_py);
    Py_CLEAR(self->upstream_start_py);
    Py_CLEAR(self->upstream_end_py);
    Py_CLEAR(self->end_py);
    Py_CLEAR(self->spans_add);
    Py_CLEAR(self->metrics);
    Py_CLEAR(self->requests);
    Py_CLEAR(self->llm);
    Py_CLEAR(self->upstream);
    Py_CLEAR(self->upstream_add);
    Py_CLEAR(self->record_metrics);
    Py_CLEAR(self->random_bits);
    Py_CLEAR(self->time_ns);
    return 0;
}

static void
hooks_dealloc(HooksObject *self)
{
    PyObject_GC_UnTrack(self);
    hooks_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *g_time_ns; /* time.time_ns */

/* The hooks' clock, time.time_ns() unless a test gave another: read here when it is that one
   (the same CLOCK_REALTIME, without a call through Python: about 250 instructions, three times a
   request). */
static PyObject *
now_ns(HooksObject *self)
{
#if defined(CLOCK_REALTIME) && !defined(MS_WINDOWS)
    struct timespec now;
    if (self->time_ns == g_time_ns && clock_gettime(CLOCK_REALTIME, &now) == 0) {
        return PyLong_FromLongLong((long long)now.tv_sec * 1000000000LL + now.tv_nsec);
    }
#endif
    return PyObject_CallNoArgs(self->time_ns);
}

/* The Python method `method` of the observer, called with `a` (and `b`). */
static PyObject *
hand_over(HooksObject *self, PyObject *method, PyObject *a, PyObject *b)
{
    if (self->observer == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Hooks.__init__ was not called");
        return NULL;
    }
    PyObject *args[3] = {self->observer, a, b};
    return PyObject_Vectorcall(method, args, b == NULL ? 2 : 3, NULL);
}

/* A random id of `bits` bits, 1 in place of 0 (`random_bits(bits) or 1`). */
static PyObject *
new_id(HooksObject *self, int bits)
{
    PyObject *size = PyLong_FromLong(bits);
    if (size == NULL) {
        return NULL;
    }
    PyObject *id = PyObject_CallOneArg(self->random_bits, size);
    Py_DECREF(size);
    int truth = id != NULL ? PyObject_IsTrue(id) : 1;
    if (truth < 0) {
        Py_CLEAR(id);
    }
    else if (truth == 0) {
        Py_SETREF(id, Py_NewRef(g_one));
    }
    return id;
}

/* The exchange's state, headers and protocol; 1 when it is an LLM exchange, 0 when not, -1 on error. */
static int
hook_exchange(PyObject *exchange, PyObject **x)
{
    PyObject *names[4] = {s_state, s_headers, s_protocol, s_started_at};
    if (get_attributes(exchange, names, x, 4, &hook_slots) < 0) {
        return -1;
    }
    return PyDict_CheckExact(x[0]) && PyUnicode_CheckExact(x[2]) && PyUnicode_Compare(x[2], g_llm) == 0;
}

static PyObject *
hooks_start(HooksObject *self, PyObject *exchange)
{
    PyObject *x[4];
    int llm = hook_exchange(exchange, x);
    if (llm < 0) {
        return NULL;
    }
    PyObject *result = NULL;
    int known = llm ? PyDict_Contains(x[0], s_telemetry) : 0;
    int parent = llm && known == 0 ? PySequence_Contains(x[1], s_traceparent_header) : 0;
    if (known < 0 || parent < 0) {
        goto done;
    }
    if (known) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    if (llm && !parent && self->spans_add == Py_None) { /* no spans: no client context to pass on */
        result = PyDict_SetItem(x[0], s_telemetry, Py_None) < 0 ? NULL : Py_NewRef(Py_None);
        goto done;
    }
    if (!llm || parent || self->capture || !self->sample_all || !PyFloat_CheckExact(x[3])) {
        result = hand_over(self, self->start_py, exchange, NULL);
        goto done;
    }
    PyObject *trace = new_id(self, 128);
    PyObject *span = trace ? new_id(self, 64) : NULL;
    PyObject *started = span ? PyLong_FromDouble(PyFloat_AS_DOUBLE(x[3]) * 1e9) : NULL;
    PyObject *in_flight = started ? PACK(trace, span, Py_None, started, Py_False, g_empty) : NULL;
    Py_XDECREF(trace);
    Py_XDECREF(span);
    Py_XDECREF(started);
    if (in_flight != NULL && PyDict_SetItem(x[0], s_telemetry, in_flight) == 0) {
        result = Py_NewRef(Py_None);
    }
    Py_XDECREF(in_flight);
done:
    release(x, 4);
    return result;
}

static PyObject *traceparent(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
static PyObject *upstream_span(PyObject *module, PyObject *const *args, Py_ssize_t nargs);
static PyObject *request_span(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

/* A call's state and headers. */
static int
hook_call(PyObject *call, PyObject **c)
{
    PyObject *names[2] = {s_state, s_headers};
    if (get_attributes(call, names, c, 2, &hook_call_slots) < 0) {
        return -1;
    }
    return PyDict_CheckExact(c[0]);
}

static PyObject *
hooks_upstream_start(HooksObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "upstream_start(exchange, call)");
        return NULL;
    }
    PyObject *x[4], *c[2] = {NULL, NULL};
    int llm = hook_exchange(args[0], x);
    if (llm < 0) {
        return NULL;
    }
    PyObject *result = NULL, *span_id = NULL, *now = NULL, *child = NULL, *header = NULL;
    PyObject *span = llm ? PyDict_GetItemWithError(x[0], s_telemetry) : NULL; /* borrowed */
    if (span == NULL && PyErr_Occurred()) {
        goto done;
    }
    if (llm && (span == NULL || span == Py_None)) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    int fit = llm && PyTuple_CheckExact(span) && PyTuple_GET_SIZE(span) == 6 ? hook_call(args[1], c) : 0;
    if (fit < 0) {
        goto done;
    }
    if (!fit) { /* another protocol, a client's context passed on, or an odd call */
        result = hand_over(self, self->upstream_start_py, args[0], args[1]);
        goto done;
    }
    span_id = new_id(self, 64);
    now = span_id ? now_ns(self) : NULL;
    child = now ? PACK(span_id, now) : NULL;
    if (child == NULL || PyDict_SetItem(c[0], s_telemetry, child) < 0) {
        goto done;
    }
    PyObject *ids[2] = {PyTuple_GET_ITEM(span, 0), span_id};
    header = traceparent(NULL, ids, 2);
    if (header == NULL || PyObject_SetItem(c[1], s_traceparent_header, header) < 0) {
        goto done;
    }
    PyObject *state = PyTuple_GET_ITEM(span, 5);
    int has_state = PyObject_IsTrue(state);
    if (has_state < 0 || (has_state && PyObject_SetItem(c[1], s_tracestate, state) < 0)) {
        goto done;
    }
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(span_id);
    Py_XDECREF(now);
    Py_XDECREF(child);
    Py_XDECREF(header);
    release(c, 2);
    release(x, 4);
    return result;
}

/* The sink's add(span); steals the reference to `span`. */
static int
add_span(HooksObject *self, PyObject *span)
{
    if (span == NULL) {
        return -1;
    }
    PyObject *added = PyObject_CallOneArg(self->spans_add, span);
    Py_DECREF(span);
    Py_XDECREF(added);
    return added == NULL ? -1 : 0;
}

static PyObject *
hooks_upstream_end(HooksObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "upstream_end(exchange, call)");
        return NULL;
    }
    PyObject *exchange = args[0], *call = args[1];
    PyObject *x[4], *c[2] = {NULL, NULL};
    int llm = hook_exchange(exchange, x);
    if (llm < 0) {
        return NULL;
    }
    PyObject *result = NULL, *labels = NULL;
    int fit = llm ? hook_call(call, c) : 0;
    if (fit < 0) {
        goto done;
    }
    if (!fit) {
        result = hand_over(self, self->upstream_end_py, exchange, call);
        goto done;
    }
    PyObject *child = PyDict_GetItemWithError(c[0], s_telemetry); /* borrowed */
    if (child == NULL && PyErr_Occurred()) {
        goto done;
    }
    if (child == Py_None && PyDict_DelItem(c[0], s_telemetry) < 0) {
        goto done;
    }
    if (child != NULL && child != Py_None) {
        Py_INCREF(child);
        if (PyDict_DelItem(c[0], s_telemetry) < 0) {
            Py_DECREF(child);
            goto done;
        }
        PyObject *parent = PyDict_GetItemWithError(x[0], s_telemetry); /* borrowed: held below */
        Py_XINCREF(parent);
        PyObject *now = parent != NULL ? now_ns(self) : NULL;
        int added = -1;
        if (now != NULL && PyTuple_CheckExact(child) && PyTuple_GET_SIZE(child) == 2) {
            PyObject *span_args[6] = {exchange, call, parent, PyTuple_GET_ITEM(child, 0), PyTuple_GET_ITEM(child, 1), now};
            added = add_span(self, upstream_span(NULL, span_args, 6));
        }
        else if (now != NULL || (parent == NULL && !PyErr_Occurred())) {
            PyErr_SetString(PyExc_TypeError, "an upstream call's span must be a (span_id, start_ns) tuple"
                                             " of an exchange with a span");
        }
        Py_XDECREF(now);
        Py_XDECREF(parent);
        Py_DECREF(child);
        if (added < 0) {
            goto done;
        }
    }
    if (self->upstream != NULL) {
        PyObject *names[4] = {s_backend, s_status, s_error_type, NULL};
        PyObject *v[3];
        if (get_attributes(call, names, v, 3, &upstream_count_slots) < 0) {
            goto done;
        }
        labels = PACK(x[2], v[0], v[1], v[2]);
        release(v, 3);
        int counted = labels ? count_existing(self->upstream, labels) : -1;
        if (counted < 0) {
            goto done;
        }
        if (!counted) {
            PyObject *added = PyObject_CallFunctionObjArgs(self->upstream_add, g_one, labels, NULL);
            if (added == NULL) {
                goto done;
            }
            Py_DECREF(added);
        }
    }
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(labels);
    release(c, 2);
    release(x, 4);
    return result;
}

static PyObject *
hooks_end(HooksObject *self, PyObject *exchange)
{
    PyObject *x[4];
    int llm = hook_exchange(exchange, x);
    if (llm < 0) {
        return NULL;
    }
    PyObject *result = NULL;
    PyObject *span = llm ? PyDict_GetItemWithError(x[0], s_telemetry) : NULL; /* borrowed */
    if (span == NULL && PyErr_Occurred()) {
        goto done;
    }
    if (!llm || span == NULL || self->access_log || self->capture) {
        result = hand_over(self, self->end_py, exchange, NULL);
        goto done;
    }
    if (PyTuple_CheckExact(span) && self->spans_add != Py_None) {
        PyObject *now = now_ns(self);
        if (now == NULL) {
            goto done;
        }
        PyObject *span_args[4] = {exchange, Py_False, span, now};
        int added = add_span(self, request_span(NULL, span_args, 4));
        Py_DECREF(now);
        if (added < 0) {
            goto done;
        }
    }
    if (self->requests != NULL) {
        PyObject *record_args[3] = {self->requests, self->llm, exchange};
        PyObject *recorded = record_llm(NULL, record_args, 3);
        if (recorded == NULL) {
            goto done;
        }
        Py_DECREF(recorded);
        if (recorded == Py_False) {
            PyObject *done_py = PyObject_CallFunctionObjArgs(self->record_metrics, self->metrics, exchange, NULL);
            if (done_py == NULL) {
                goto done;
            }
            Py_DECREF(done_py);
        }
    }
    result = Py_NewRef(Py_None);
done:
    release(x, 4);
    return result;
}

static PyMethodDef hooks_methods[] = {
    {"start", (PyCFunction)hooks_start, METH_O, "TelemetryObserver.start."},
    {"upstream_start", (PyCFunction)(void (*)(void))hooks_upstream_start, METH_FASTCALL,
     "TelemetryObserver.upstream_start."},
    {"upstream_end", (PyCFunction)(void (*)(void))hooks_upstream_end, METH_FASTCALL,
     "TelemetryObserver.upstream_end."},
    {"end", (PyCFunction)hooks_end, METH_O, "TelemetryObserver.end."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject Hooks_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "agentgw.telemetry._speedups.Hooks",
    .tp_basicsize = sizeof(HooksObject),
    .tp_dealloc = (destructor)hooks_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Hooks(observer, start, upstream_start, upstream_end, end, spans_add, metrics,"
              " record_metrics, random_bits, time_ns, sample_all, capture, access_log): a"
              " TelemetryObserver's hooks for LLM exchanges in C, its Python methods for the rest.",
    .tp_traverse = (traverseproc)hooks_traverse,
    .tp_clear = (inquiry)hooks_clear,
    .tp_methods = hooks_methods,
    .tp_init = (initproc)hooks_init,
    .tp_new = PyType_GenericNew,
};

/* ---------------------------------------------------------------------------------------------
   The OTLP sink's queue (otlp.SpanQueuePy). */

typedef struct {
    PyObject_HEAD
    PyObject *spans;   /* list */
    PyObject *on_full; /* called when a batch is queued */
    Py_ssize_t batch, limit, dropped;
} QueueObject;

static int
queue_init(QueueObject *self, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"batch", "limit", "on_full", NULL};
    Py_ssize_t batch, limit;
    PyObject *on_full;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "nnO:SpanQueue", keywords, &batch, &limit, &on_full)) {
        return -1;
    }
    PyObject *spans = PyList_New(0);
    if (spans == NULL) {
        return -1;
    }
    Py_XSETREF(self->spans, spans);
    Py_XSETREF(self->on_full, Py_NewRef(on_full));
    self->batch = batch;
    self->limit = limit;
    self->dropped = 0;
    return 0;
}

static int
queue_traverse(QueueObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->spans);
    Py_VISIT(self->on_full);
    return 0;
}

static int
queue_clear(QueueObject *self)
{
    Py_CLEAR(self->spans);
    Py_CLEAR(self->on_full);
    return 0;
}

static void
queue_dealloc(QueueObject *self)
{
    PyObject_GC_UnTrack(self);
    queue_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
queue_add(QueueObject *self, PyObject *span)
{
    if (self->spans == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "SpanQueue.__init__ was not called");
        return NULL;
    }
    Py_ssize_t size = PyList_GET_SIZE(self->spans);
    if (size >= self->limit) {
        self->dropped++;
        Py_RETURN_NONE;
    }
    if (PyList_Append(self->spans, span) < 0) {
        return NULL;
    }
    if (size + 1 >= self->batch) {
        return PyObject_CallNoArgs(self->on_full);
    }
    Py_RETURN_NONE;
}

static PyMethodDef queue_methods[] = {
    {"add", (PyCFunction)queue_add, METH_O, "add(span): queued, or counted as dropped when the queue is full."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef queue_members[] = {
    {"spans", T_OBJECT, offsetof(QueueObject, spans), READONLY, "The queued spans (a list)."},
    {"dropped", T_PYSSIZET, offsetof(QueueObject, dropped), 0, "Spans dropped for want of room."},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject Queue_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "agentgw.telemetry._speedups.SpanQueue",
    .tp_basicsize = sizeof(QueueObject),
    .tp_dealloc = (destructor)queue_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "otlp.SpanQueuePy in C.",
    .tp_traverse = (traverseproc)queue_traverse,
    .tp_clear = (inquiry)queue_clear,
    .tp_methods = queue_methods,
    .tp_members = queue_members,
    .tp_init = (initproc)queue_init,
    .tp_new = PyType_GenericNew,
};

/* ---------------------------------------------------------------------------------------------
   Random ids (observer._random_bits): xoshiro256** seeded from os.urandom (agentgw.telemetry.native
   seeds it at import and again in a forked child), for trace and span ids, which the W3C trace
   context asks to be random, not secret. random.getrandbits, the Python side's, costs about 500
   instructions an id; this about 100. */

static uint64_t g_random[4] = {0x9E3779B97F4A7C15u, 0xBF58476D1CE4E5B9u, 0x94D049BB133111EBu, 1};

static uint64_t
rotate(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t
next_random(void)
{
    uint64_t result = rotate(g_random[1] * 5, 7) * 9, t = g_random[1] << 17;
    g_random[2] ^= g_random[0];
    g_random[3] ^= g_random[1];
    g_random[1] ^= g_random[2];
    g_random[0] ^= g_random[3];
    g_random[2] ^= t;
    g_random[3] = rotate(g_random[3], 45);
    return result;
}

static PyObject *
seed(PyObject *module, PyObject *entropy)
{
    if (!PyBytes_Check(entropy) || PyBytes_GET_SIZE(entropy) != 32) {
        PyErr_SetString(PyExc_ValueError, "seed(entropy): 32 bytes");
        return NULL;
    }
    memcpy(g_random, PyBytes_AS_STRING(entropy), 32);
    if ((g_random[0] | g_random[1] | g_random[2] | g_random[3]) == 0) {
        g_random[3] = 1; /* the one state xoshiro never leaves */
    }
    Py_RETURN_NONE;
}

static PyObject *
random_bits(PyObject *module, PyObject *count)
{
    long bits = PyLong_AsLong(count);
    if (bits == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (bits < 1 || bits > 128) {
        PyErr_SetString(PyExc_ValueError, "random_bits(k): 1 <= k <= 128");
        return NULL;
    }
    if (bits <= 64) {
        return PyLong_FromUnsignedLongLong(next_random() >> (64 - bits));
    }
    uint64_t high = next_random() >> (128 - bits), low = next_random();
    unsigned char bytes[16];
    for (int i = 0; i < 8; i++) {
        bytes[7 - i] = (unsigned char)(high >> (8 * i));
        bytes[15 - i] = (unsigned char)(low >> (8 * i));
    }
#if PY_VERSION_HEX >= 0x030D0000
    return PyLong_FromUnsignedNativeBytes(bytes, 16, Py_ASNATIVEBYTES_BIG_ENDIAN);
#else
    return _PyLong_FromByteArray(bytes, 16, 0, 0);
#endif
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(interned, intern_limit, parameter_values, parameter_fields, captured, request_shape,"
     " upstream_shape,"
     " server_kind, client_kind): what request_span and upstream_span need of Python."},
    {"request_span", (PyCFunction)(void (*)(void))request_span, METH_FASTCALL,
     "exchange_spans.request_span, in C."},
    {"upstream_span", (PyCFunction)(void (*)(void))upstream_span, METH_FASTCALL,
     "exchange_spans.upstream_span, in C."},
    {"traceparent", (PyCFunction)(void (*)(void))traceparent, METH_FASTCALL,
     "traceparent(trace_id, span_id): the W3C traceparent of a sampled span."},
    {"encode_request", encode_request, METH_VARARGS,
     "encode_request(resource, scope, spans, entries, new_entry, attribute, rest): an"
     " ExportTraceServiceRequest of spans (FrozenSpan tuples)."},
    {"record_llm", (PyCFunction)(void (*)(void))record_llm, METH_FASTCALL,
     "record_llm(requests, llm, exchange): observer._record_metrics for an LLM exchange whose"
     " series exist; False (nothing recorded) otherwise."},
    {"seed", seed, METH_O, "seed(entropy): random_bits's state, from 32 bytes (os.urandom(32))."},
    {"random_bits", random_bits, METH_O,
     "random_bits(k): a random int of k bits (1 <= k <= 128), as random.getrandbits(k) gives."},
    {"count", (PyCFunction)(void (*)(void))count, METH_FASTCALL,
     "count(series, labels): series[labels] += 1 if labels has a count; whether it had."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "agentgw.telemetry._speedups", "The span path in C (see agentgw.telemetry.native).",
    -1, methods, NULL, NULL, NULL, NULL,
};

#define INTERN(var, text)                                                                            \
    if ((var = PyUnicode_InternFromString(text)) == NULL) {                                          \
        return NULL;                                                                                 \
    }

PyMODINIT_FUNC
PyInit__speedups(void)
{
    INTERN(s_protocol, "protocol");
    INTERN(s_operation, "operation");
    INTERN(s_target, "target");
    INTERN(s_route, "route");
    INTERN(s_status, "status");
    INTERN(s_backend, "backend");
    INTERN(s_provider, "provider");
    INTERN(s_stream, "stream");
    INTERN(s_response_model, "response_model");
    INTERN(s_finish_reasons, "finish_reasons");
    INTERN(s_error_type, "error_type");
    INTERN(s_request, "request");
    INTERN(s_response_id, "response_id");
    INTERN(s_usage, "usage");
    INTERN(s_input_tokens, "input_tokens");
    INTERN(s_output_tokens, "output_tokens");
    INTERN(s_cache_read, "cache_read_input_tokens");
    INTERN(s_cache_creation, "cache_creation_input_tokens");
    INTERN(s_reasoning, "reasoning_output_tokens");
    INTERN(s_first_chunk, "first_chunk");
    INTERN(s_started, "started");
    INTERN(s_attributes, "attributes");
    INTERN(s_response, "response");
    INTERN(s_tool_result, "tool_result");
    INTERN(s_model, "model");
    INTERN(s_url, "url");
    INTERN(g_llm, "llm");
    INTERN(s_team, "team");
    INTERN(s_ended, "ended");
    INTERN(s_llm_duration, "duration");
    INTERN(s_llm_input, "_input");
    INTERN(s_llm_output, "_output");
    INTERN(s_llm_first_chunk, "_first_chunk");
    INTERN(s_state, "state");
    INTERN(s_headers, "headers");
    INTERN(s_started_at, "started_at");
    INTERN(s_telemetry, "telemetry");
    INTERN(s_traceparent_header, "traceparent");
    INTERN(s_tracestate, "tracestate");
    INTERN(g_empty, "");
    PyObject *time_module = PyImport_ImportModule("time");
    if (time_module == NULL) {
        return NULL;
    }
    g_time_ns = PyObject_GetAttrString(time_module, "time_ns");
    Py_DECREF(time_module);
    if (g_time_ns == NULL) {
        return NULL;
    }
    if ((g_one = PyLong_FromLong(1)) == NULL || PyType_Ready(&Series_Type) < 0 || PyType_Ready(&Hooks_Type) < 0 ||
        PyType_Ready(&Queue_Type) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL || PyModule_AddObjectRef(module, "HistogramSeries", (PyObject *)&Series_Type) < 0 ||
        PyModule_AddObjectRef(module, "Hooks", (PyObject *)&Hooks_Type) < 0 ||
        PyModule_AddObjectRef(module, "SpanQueue", (PyObject *)&Queue_Type) < 0) {
        Py_XDECREF(module);
        return NULL;
    }
    return module;
}
