/* Avro binary decoding for a schema given as a flat node program.
 *
 * solas.surveys.compiled builds the program from a fastavro-parsed writer schema: a list
 * of node tuples, each naming its children by their index in the list (so recursive
 * schemas need no special case).  A Reader holds the program as C structs and decodes
 * records with it, giving the same Python values as fastavro.schemaless_reader.
 *
 * Every read is bounds-checked.  Data that ends early raises IndexError; data that cannot
 * be an encoding of the schema (bad union or enum index, negative length, over-long
 * varint, invalid UTF-8, an absurd block count) raises ValueError; data nested deeper
 * than MAX_DEPTH records, arrays and maps raises RecursionError.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

enum {
    K_NULL, K_BOOLEAN, K_INT, K_LONG, K_FLOAT, K_DOUBLE, K_BYTES, K_STRING,
    K_RECORD, K_ENUM, K_ARRAY, K_MAP, K_UNION, K_FIXED, K_COUNT
};

/* Items of a block whose encoding may take no bytes (arrays of null) are capped. */
#define MAX_ZERO_SIZE_ITEMS (1 << 20)
/* Records, arrays and maps nested in one another: a bound on the C stack used. */
#define MAX_DEPTH 1000

typedef struct Node {
    int kind;
    Py_ssize_t n;             /* fields, branches, symbols; the size of a fixed */
    struct Node **children;   /* fields, branches; [0] = items or values */
    PyObject **names;         /* field names, enum symbols (borrowed from the program) */
    Py_ssize_t min_size;      /* arrays and maps: fewest bytes one item can take */
} Node;

typedef struct {
    PyObject_HEAD
    Node *nodes;
    Py_ssize_t count;
    PyObject *program;        /* keeps the names and symbols alive */
} Reader;

typedef struct {
    const uint8_t *buf;
    Py_ssize_t len;
    Py_ssize_t pos;
    int depth;
} Input;

static PyObject *truncated(const char *what) {
    PyErr_Format(PyExc_IndexError, "%s beyond end of data", what);
    return NULL;
}

static PyObject *corrupt(const char *what) {
    PyErr_SetString(PyExc_ValueError, what);
    return NULL;
}

/* Zig-zag varint; 0 on success, -1 with an exception set. */
static int read_long(Input *in, int64_t *out) {
    uint64_t n = 0;
    int shift = 0;
    for (;;) {
        if (in->pos >= in->len) {
            truncated("varint");
            return -1;
        }
        uint8_t b = in->buf[in->pos++];
        if (shift == 63 && (b & 0x7E)) {
            corrupt("varint does not fit in 64 bits");
            return -1;
        }
        n |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80))
            break;
        shift += 7;
        if (shift > 63) {
            corrupt("varint longer than 10 bytes");
            return -1;
        }
    }
    *out = (int64_t)((n >> 1) ^ (~(n & 1) + 1));
    return 0;
}

/* Length prefix of bytes or a string, checked against the data left. */
static int read_length(Input *in, Py_ssize_t *out) {
    int64_t n;
    if (read_long(in, &n) < 0)
        return -1;
    if (n < 0) {
        corrupt("negative length");
        return -1;
    }
    if (n > in->len - in->pos) {
        truncated("length");
        return -1;
    }
    *out = (Py_ssize_t)n;
    return 0;
}

static PyObject *read_node(const Node *node, Input *in);

static PyObject *read_record(const Node *node, Input *in) {
#if PY_VERSION_HEX < 0x030D0000
    PyObject *record = _PyDict_NewPresized(node->n);
#else
    PyObject *record = PyDict_New();
#endif
    if (record == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < node->n; i++) {
        PyObject *value = read_node(node->children[i], in);
        if (value == NULL || PyDict_SetItem(record, node->names[i], value) < 0) {
            Py_XDECREF(value);
            Py_DECREF(record);
            return NULL;
        }
        Py_DECREF(value);
    }
    return record;
}

static PyObject *read_string(Input *in) {
    Py_ssize_t n;
    if (read_length(in, &n) < 0)
        return NULL;
    PyObject *text = PyUnicode_DecodeUTF8((const char *)in->buf + in->pos, n, NULL);
    in->pos += n;
    return text;
}

/* The item count of the next block (0 at the end), checked against the data left; ``total``
 * counts the items of the earlier blocks, so blocks of items taking no bytes (nulls) stay
 * within MAX_ZERO_SIZE_ITEMS all together. */
static int read_block_count(const Node *node, Input *in, Py_ssize_t total, Py_ssize_t *out) {
    int64_t count, size;
    if (read_long(in, &count) < 0)
        return -1;
    if (count < 0) {
        if (count == INT64_MIN) {
            corrupt("block count out of range");
            return -1;
        }
        count = -count;
        if (read_long(in, &size) < 0)
            return -1;
    }
    if (node->min_size > 0 && count > (in->len - in->pos) / node->min_size) {
        truncated("block");
        return -1;
    }
    if (node->min_size == 0 && count > MAX_ZERO_SIZE_ITEMS - total) {
        corrupt("block too long");
        return -1;
    }
    *out = (Py_ssize_t)count;
    return 0;
}

/* Reads one item of an array or map into ``container``; 0, or -1 with an exception set. */
typedef int (*AddItem)(const Node *item, Input *in, PyObject *container);

static int add_array_item(const Node *item, Input *in, PyObject *list) {
    PyObject *value = read_node(item, in);
    int failed = value == NULL || PyList_Append(list, value) < 0;
    Py_XDECREF(value);
    return failed ? -1 : 0;
}

static int add_map_item(const Node *item, Input *in, PyObject *map) {
    PyObject *key = read_string(in);
    PyObject *value = key ? read_node(item, in) : NULL;
    int failed = value == NULL || PyDict_SetItem(map, key, value) < 0;
    Py_XDECREF(key);
    Py_XDECREF(value);
    return failed ? -1 : 0;
}

/* The blocks of an array or map, their items added to ``container`` (a new reference,
 * returned, or released on failure). */
static PyObject *read_blocks(const Node *node, Input *in, PyObject *container, AddItem add) {
    Py_ssize_t count, total = 0;
    if (container == NULL)
        return NULL;
    for (;;) {
        if (read_block_count(node, in, total, &count) < 0)
            break;
        if (count == 0)
            return container;
        total += count;
        Py_ssize_t i = 0;
        while (i < count && add(node->children[0], in, container) == 0)
            i++;
        if (i < count)
            break;
    }
    Py_DECREF(container);
    return NULL;
}

/* A union branch or enum symbol index, checked against the ``n`` choices. */
static int read_choice(Input *in, Py_ssize_t n, const char *what, Py_ssize_t *out) {
    int64_t i;
    if (read_long(in, &i) < 0)
        return -1;
    if (i < 0 || i >= n) {
        corrupt(what);
        return -1;
    }
    *out = (Py_ssize_t)i;
    return 0;
}

static PyObject *read_nested(const Node *node, Input *in) {
    if (in->depth >= MAX_DEPTH) {
        PyErr_SetString(PyExc_RecursionError, "Avro data nested deeper than 1000 levels");
        return NULL;
    }
    in->depth++;
    PyObject *value = node->kind == K_RECORD ? read_record(node, in)
                    : node->kind == K_ARRAY ? read_blocks(node, in, PyList_New(0), add_array_item)
                    : read_blocks(node, in, PyDict_New(), add_map_item);
    in->depth--;
    return value;
}

static PyObject *read_node(const Node *node, Input *in) {
    int64_t v;
    Py_ssize_t n;
    switch (node->kind) {
    case K_NULL:
        Py_RETURN_NONE;
    case K_BOOLEAN:
        if (in->pos >= in->len)
            return truncated("boolean");
        return PyBool_FromLong(in->buf[in->pos++] != 0);
    case K_INT:
    case K_LONG:
        return read_long(in, &v) < 0 ? NULL : PyLong_FromLongLong(v);
    case K_FLOAT:
        if (in->len - in->pos < 4)
            return truncated("float");
        in->pos += 4;
        return PyFloat_FromDouble(PyFloat_Unpack4((const char *)in->buf + in->pos - 4, 1));
    case K_DOUBLE:
        if (in->len - in->pos < 8)
            return truncated("double");
        in->pos += 8;
        return PyFloat_FromDouble(PyFloat_Unpack8((const char *)in->buf + in->pos - 8, 1));
    case K_BYTES:
        if (read_length(in, &n) < 0)
            return NULL;
        in->pos += n;
        return PyBytes_FromStringAndSize((const char *)in->buf + in->pos - n, n);
    case K_STRING:
        return read_string(in);
    case K_FIXED:
        if (in->len - in->pos < node->n)
            return truncated("fixed");
        in->pos += node->n;
        return PyBytes_FromStringAndSize((const char *)in->buf + in->pos - node->n, node->n);
    case K_ENUM:
        if (read_choice(in, node->n, "bad enum index", &n) < 0)
            return NULL;
        return Py_NewRef(node->names[n]);
    case K_UNION:
        if (in->pos < in->len && in->buf[in->pos] < 0x80) {  /* one-byte index: the norm */
            v = in->buf[in->pos] >> 1;
            if ((in->buf[in->pos] & 1) || v >= node->n)
                return corrupt("bad union index");
            in->pos++;
            return read_node(node->children[v], in);
        }
        if (read_choice(in, node->n, "bad union index", &n) < 0)
            return NULL;
        return read_node(node->children[n], in);
    default:
        return read_nested(node, in);
    }
}

/* ---------------------------------------------------------------- building the program */
static int node_ints(PyObject *item, Py_ssize_t at, Py_ssize_t count, Py_ssize_t *out) {
    PyObject *value = PyTuple_GET_ITEM(item, at);
    *out = PyLong_AsSsize_t(value);
    if (*out == -1 && PyErr_Occurred())
        return -1;
    if (*out < 0 || (count >= 0 && *out >= count)) {
        PyErr_SetString(PyExc_ValueError, "node reference out of range");
        return -1;
    }
    return 0;
}

static int build_children(Reader *self, Node *node, PyObject *refs, PyObject *names) {
    Py_ssize_t n = PyTuple_GET_SIZE(refs);
    node->n = n;
    node->children = PyMem_Calloc(n ? n : 1, sizeof(Node *));
    if (node->children == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t ref;
        if (node_ints(refs, i, self->count, &ref) < 0)
            return -1;
        node->children[i] = &self->nodes[ref];
    }
    if (names != NULL) {
        if (PyTuple_GET_SIZE(names) != n) {
            PyErr_SetString(PyExc_ValueError, "record needs one name per field");
            return -1;
        }
        node->names = &PyTuple_GET_ITEM(names, 0);
    }
    return 0;
}

static int check_names(PyObject *names) {
    if (!PyTuple_Check(names)) {
        PyErr_SetString(PyExc_TypeError, "names must be a tuple");
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names); i++)
        if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(names, i))) {
            PyErr_SetString(PyExc_TypeError, "names must be str");
            return -1;
        }
    return 0;
}

/* (kind, ...) as documented in solas.surveys.compiled.reader_program. */
static int build_node(Reader *self, Node *node, PyObject *item) {
    if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) < 1) {
        PyErr_SetString(PyExc_TypeError, "each node must be a non-empty tuple");
        return -1;
    }
    Py_ssize_t kind, size = PyTuple_GET_SIZE(item);
    if (node_ints(item, 0, K_COUNT, &kind) < 0)
        return -1;
    node->kind = (int)kind;
    if (kind == K_RECORD && size == 3 && PyTuple_Check(PyTuple_GET_ITEM(item, 2))
            && check_names(PyTuple_GET_ITEM(item, 1)) == 0)
        return build_children(self, node, PyTuple_GET_ITEM(item, 2), PyTuple_GET_ITEM(item, 1));
    if (kind == K_UNION && size == 2 && PyTuple_Check(PyTuple_GET_ITEM(item, 1)))
        return PyTuple_GET_SIZE(PyTuple_GET_ITEM(item, 1)) == 0
            ? (PyErr_SetString(PyExc_ValueError, "a union needs a branch"), -1)
            : build_children(self, node, PyTuple_GET_ITEM(item, 1), NULL);
    if (kind == K_ENUM && size == 2 && check_names(PyTuple_GET_ITEM(item, 1)) == 0) {
        node->n = PyTuple_GET_SIZE(PyTuple_GET_ITEM(item, 1));
        node->names = &PyTuple_GET_ITEM(PyTuple_GET_ITEM(item, 1), 0);
        return 0;
    }
    if ((kind == K_ARRAY || kind == K_MAP) && size == 3) {
        PyObject *refs = PyTuple_GetSlice(item, 1, 2);
        int failed = refs == NULL || build_children(self, node, refs, NULL) < 0
                     || node_ints(item, 2, -1, &node->min_size) < 0;
        Py_XDECREF(refs);
        return failed ? -1 : 0;
    }
    if (kind == K_FIXED && size == 2)
        return node_ints(item, 1, -1, &node->n);
    if (kind < K_RECORD && size == 1)
        return 0;
    if (!PyErr_Occurred())
        PyErr_Format(PyExc_ValueError, "malformed node of kind %zd", kind);
    return -1;
}

static void Reader_dealloc(Reader *self) {
    for (Py_ssize_t i = 0; self->nodes && i < self->count; i++)
        PyMem_Free(self->nodes[i].children);
    PyMem_Free(self->nodes);
    Py_XDECREF(self->program);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Reader_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    PyObject *program;
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0)
        return PyErr_Format(PyExc_TypeError, "Reader() takes no keyword arguments");
    if (!PyArg_ParseTuple(args, "O!:Reader", &PyTuple_Type, &program))
        return NULL;
    Py_ssize_t count = PyTuple_GET_SIZE(program);
    if (count == 0)
        return corrupt("the program has no nodes");
    Reader *self = (Reader *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->program = Py_NewRef(program);
    self->count = count;
    self->nodes = PyMem_Calloc(count, sizeof(Node));
    if (self->nodes == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < count; i++)
        if (build_node(self, &self->nodes[i], PyTuple_GET_ITEM(program, i)) < 0) {
            Py_DECREF(self);
            return NULL;
        }
    return (PyObject *)self;
}

/* read(buf, pos) -> (value of node 0, end position) */
static PyObject *Reader_read(Reader *self, PyObject *const *args, Py_ssize_t nargs) {
    Py_buffer view;
    if (nargs != 2)
        return PyErr_Format(PyExc_TypeError, "read() takes 2 arguments (%zd given)", nargs);
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred())
        return NULL;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *result = NULL;
    if (pos < 0 || pos > view.len) {
        truncated("start position");
    } else {
        Input in = {(const uint8_t *)view.buf, view.len, pos, 0};
        PyObject *value = read_node(&self->nodes[0], &in);
        if (value != NULL) {
            result = Py_BuildValue("(Nn)", value, in.pos);
        }
    }
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef Reader_methods[] = {
    {"read", (PyCFunction)(void (*)(void))Reader_read, METH_FASTCALL,
     "read(buf, pos) -> (value, end): decode one value of the schema at pos."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ReaderType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "solas.surveys._avro_reader.Reader",
    .tp_basicsize = sizeof(Reader),
    .tp_dealloc = (destructor)Reader_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Reader(program): decodes Avro binary data of one schema (see compiled.py).",
    .tp_methods = Reader_methods,
    .tp_new = Reader_new,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_avro_reader",
    "Avro binary decoding driven by a node program (see solas.surveys.compiled).", -1,
};

PyMODINIT_FUNC PyInit__avro_reader(void) {
    if (PyType_Ready(&ReaderType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Reader", (PyObject *)&ReaderType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
