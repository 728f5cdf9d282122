/* agentgw.telemetry._speedups: the span path of issue 9 in C.

   Each function here has a reference implementation in Python that it must match exactly
   (tests/agentgw/telemetry/test_speedups.py compares the two on generated spans):

   - request_span, upstream_span: agentgw.telemetry.exchange_spans (a finished span's tuple);
   - traceparent: agentgw.telemetry.observer (the W3C header sent upstream);
   - encode_request: agentgw.telemetry.otlp (a batch of spans as an ExportTraceServiceRequest).

   Why C: in Python each of these is a few hundred bytecodes per request, and the interpreter's
   dispatch of them, not any one call, is what tracing every request cost (about 15% of a proxied
   request's instructions against a 5% budget). What only Python knows (a span's name and
   attributes, a shape's extra attributes) is still asked of Python, once per distinct value.

   The module is optional: agentgw.telemetry.native imports it and falls back to the Python
   implementations when it is missing (AGENTGW_NO_EXTENSIONS=1 also turns it off). */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------------
   Configuration, set once by configure() from agentgw.telemetry.native. */

static PyObject *g_interned;         /* dict: equal `fixed` tuples share one (exchange_spans) */
static Py_ssize_t g_intern_limit;
static PyObject *g_parameter_values; /* genai.parameter_values */
static PyObject *g_parameter_fields; /* tuple: the request-parameter fields of genai's table */
#define MAX_PARAMETER_FIELDS 12
/* By the set of fields a body sets (a bit per field of g_parameter_fields): those fields in the
   order genai.parameter_values gives them, learnt from its first answer for that set. */
static PyObject *g_parameter_names[1 << MAX_PARAMETER_FIELDS];
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
    Py_XSETREF(g_parameter_fields, Py_NewRef(fields));
    Py_XSETREF(g_interned, Py_NewRef(interned));
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

/* `fixed`, or the equal tuple already interned; steals the reference to `fixed`. */
static PyObject *
interned(PyObject *fixed)
{
    PyObject *found = PyDict_GetItemWithError(g_interned, fixed);
    if (found != NULL) {
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
    return fixed;
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
    unsigned set = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (PyDict_GetItemWithError(request, PyTuple_GET_ITEM(g_parameter_fields, i)) != NULL) {
            set |= 1u << i;
        }
        else if (PyErr_Occurred()) {
            return NULL;
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
        PyObject *value = PyDict_GetItemWithError(request, PyTuple_GET_ITEM(names, i));
        if (value == NULL) { /* the names are the fields found above: cannot be missing */
            Py_DECREF(values);
            return PyErr_Occurred() ? NULL : PyObject_CallOneArg(g_parameter_values, request);
        }
        PyTuple_SET_ITEM(values, i, Py_NewRef(value));
    }
    /* As itemgetter gives them: one field's value alone, several as a tuple. */
    PyObject *result = PyTuple_Pack(2, names, size == 1 ? PyTuple_GET_ITEM(values, 0) : values);
    Py_DECREF(values);
    return result;
}

/* Fill `items` with the attributes of `obj` named in `names`; 0, or -1 with every item released. */
static int
get_attributes(PyObject *obj, PyObject **names, PyObject **items, int count)
{
    for (int i = 0; i < count; i++) {
        items[i] = PyObject_GetAttr(obj, names[i]);
        if (items[i] == NULL) {
            for (int j = 0; j < i; j++) {
                Py_DECREF(items[j]);
            }
            return -1;
        }
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
    if (get_attributes(exchange, names, x, X_COUNT) < 0) {
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
    fixed = PyTuple_Pack(13, g_request_shape, x[X_PROTOCOL], x[X_OPERATION], x[X_TARGET], x[X_ROUTE],
                         x[X_STATUS], x[X_BACKEND], x[X_PROVIDER], x[X_STREAM], x[X_RESPONSE_MODEL],
                         reasons, x[X_ERROR_TYPE], parameters);
    if (fixed == NULL || (fixed = interned(fixed)) == NULL) {
        goto done;
    }

    PyObject *usage_names[5] = {s_input_tokens, s_output_tokens, s_cache_read, s_cache_creation, s_reasoning};
    if (get_attributes(x[X_USAGE], usage_names, usage, 5) < 0) {
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
    variable = PyTuple_Pack(10, x[X_RESPONSE_ID], usage[0], usage[1], usage[2], usage[3], usage[4],
                            first, attributes, captured, response);
    if (variable == NULL) {
        goto done;
    }
    result = PyTuple_Pack(11, PyTuple_GET_ITEM(span, 0), PyTuple_GET_ITEM(span, 1),
                          PyTuple_GET_ITEM(span, 2), g_server_kind, PyTuple_GET_ITEM(span, 3), end_ns,
                          x[X_ERROR_TYPE] != Py_None ? Py_True : Py_False, PyTuple_GET_ITEM(span, 4),
                          PyTuple_GET_ITEM(span, 5), fixed, variable);
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
    if (get_attributes(exchange, exchange_names, x, 3) < 0) {
        return NULL;
    }
    if (get_attributes(call, call_names, c, 6) < 0) {
        for (int i = 0; i < 3; i++) {
            Py_DECREF(x[i]);
        }
        return NULL;
    }
    PyObject *result = NULL;
    PyObject *fixed = PyTuple_Pack(10, g_upstream_shape, x[0], x[1], x[2], c[0], c[1], c[2], c[3], c[4], c[5]);
    if (fixed != NULL && (fixed = interned(fixed)) != NULL) {
        result = PyTuple_Pack(11, PyTuple_GET_ITEM(parent, 0), args[3], PyTuple_GET_ITEM(parent, 1),
                              g_client_kind, args[4], args[5], c[5] != Py_None ? Py_True : Py_False,
                              Py_False, PyTuple_GET_ITEM(parent, 5), fixed, Py_None);
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
        uint64_t id = PyLong_AsUnsignedLongLong(value);
        if (id == (uint64_t)-1 && PyErr_Occurred()) {
            return -1;
        }
        for (int i = 0; i < 8; i++) {
            out[7 - i] = (unsigned char)(id >> (8 * i));
        }
        return 0;
    }
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
    uint64_t kind = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(span, 3));
    uint64_t start = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(span, 4));
    uint64_t end = PyLong_AsUnsignedLongLong(PyTuple_GET_ITEM(span, 5));
    if (PyErr_Occurred()) {
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

static PyObject *
encode_request(PyObject *module, PyObject *args)
{
    PyObject *resource, *scope, *spans;
    Encoders encoders;
    if (!PyArg_ParseTuple(args, "SSO!O!OOO", &resource, &scope, &PyList_Type, &spans, &PyDict_Type,
                          &encoders.entries, &encoders.new_entry, &encoders.attribute, &encoders.rest)) {
        return NULL;
    }
    Buffer out = {NULL, 0, 0}, one = {NULL, 0, 0};
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
    PyMem_Free(out.data);
    PyMem_Free(one.data);
    return result;
}

/* --------------------------------------------------------------------------------------------- */

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
    return PyModule_Create(&module_def);
}
