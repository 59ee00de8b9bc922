"""OIP v2 tensors <-> numpy: every datatype raw and typed, BYTES framing, the raw-vs-typed
rules, request parameters. Messages are built with Kiln's own `inference` stubs."""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

from kiln.oip.v2 import grpc_service_pb2 as pb
from kiln.oip.v2 import model_config_pb2 as config_pb
from kiln.server.errors import InvalidInput
from kiln.server.oip_codecs import (
    DATATYPES,
    RequestOptions,
    check_datatypes,
    datatype_of,
    decode_contents,
    decode_inputs,
    decode_raw,
    deserialize_bytes,
    encode_raw,
    parse_parameters,
    requested_outputs,
    serialize_bytes,
)
from kiln.server.plugin import SUPPORTED_DTYPES, ModelSpec, TensorSpec

Input = pb.ModelInferRequest.InferInputTensor
Output = pb.ModelInferRequest.InferRequestedOutputTensor

#: One 2x3 sample per fixed-width datatype, with each type's extremes where it has them.
SAMPLES = {
    "BOOL": np.array([[True, False, True], [False, False, True]]),
    "UINT8": np.array([[0, 1, 255], [7, 8, 9]], np.uint8),
    "UINT16": np.array([[0, 1, 65535], [7, 8, 9]], np.uint16),
    "UINT32": np.array([[0, 1, 2**32 - 1], [7, 8, 9]], np.uint32),
    "UINT64": np.array([[0, 1, 2**64 - 1], [7, 8, 9]], np.uint64),
    "INT8": np.array([[-128, 0, 127], [-1, 2, 3]], np.int8),
    "INT16": np.array([[-32768, 0, 32767], [-1, 2, 3]], np.int16),
    "INT32": np.array([[-(2**31), 0, 2**31 - 1], [-1, 2, 3]], np.int32),
    "INT64": np.array([[-(2**63), 0, 2**63 - 1], [-1, 2, 3]], np.int64),
    "FP16": np.array([[0.5, -2.0, 65504.0], [1e-3, 0.0, -0.0]], np.float16),
    "FP32": np.array([[0.5, -2.0, 3.4e38], [1e-30, np.inf, -0.0]], np.float32),
    "FP64": np.array([[0.5, -2.0, 1.7e308], [1e-300, -np.inf, 0.0]], np.float64),
    "BF16": np.array([[0.5, -2.0, 3.0e38], [1.0, 0.0, 256.0]], ml_dtypes.bfloat16),
}
TYPED = [name for name, info in DATATYPES.items() if info.contents_field and name != "BYTES"]


def expect_invalid(call, reason: str, field: str | None = None) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        call()
    assert info.value.reason == reason, info.value.message
    if field is not None:
        assert info.value.field == field
    return info.value


def typed(datatype: str, array: np.ndarray) -> pb.InferTensorContents:
    """Typed contents as a client fills them: the flat values in the datatype's list."""
    contents = pb.InferTensorContents()
    values = np.asarray(array).ravel()
    getattr(contents, DATATYPES[datatype].contents_field).extend(
        values.tolist() if values.dtype != object else list(values)
    )
    return contents


# --- the table -------------------------------------------------------------------------


def test_every_dtype_a_model_may_declare_has_a_datatype():
    assert {datatype_of(name) for name in SUPPORTED_DTYPES} == set(DATATYPES) - {"BYTES"}


def test_datatype_names_and_their_model_config_types():
    assert datatype_of("float32") == "FP32"
    assert datatype_of(ml_dtypes.bfloat16) == "BF16"
    assert datatype_of(np.dtype(object)) == datatype_of("S3") == "BYTES"
    assert DATATYPES["BYTES"].config_type == "TYPE_STRING"
    for info in DATATYPES.values():  # every name is a value of Triton's DataType enum
        assert config_pb.DataType.Value(info.config_type) > 0
    with pytest.raises(ValueError, match="complex64"):
        datatype_of(np.complex64)


# --- raw -------------------------------------------------------------------------------


@pytest.mark.parametrize("datatype", list(SAMPLES))
def test_raw_round_trip(datatype):
    array = SAMPLES[datatype]
    wire_type, shape, raw = encode_raw(array)
    assert (wire_type, shape) == (datatype, [2, 3])
    assert raw == array.astype(array.dtype.newbyteorder("<")).tobytes()
    decoded = decode_raw(datatype, shape, raw, field="inputs[t]")
    assert decoded.dtype == DATATYPES[datatype].dtype
    np.testing.assert_array_equal(decoded, array)
    assert not decoded.flags.owndata and not decoded.flags.writeable  # a view of `raw`


@pytest.mark.parametrize(
    ("datatype", "array", "raw"),
    [
        ("FP32", np.array([1.0], np.float32), b"\x00\x00\x80\x3f"),
        ("BF16", np.array([1.0], ml_dtypes.bfloat16), b"\x80\x3f"),
        ("FP16", np.array([1.0], np.float16), b"\x00\x3c"),
        ("INT16", np.array([-2], np.int16), b"\xfe\xff"),
        ("BOOL", np.array([True, False]), b"\x01\x00"),
    ],
)
def test_raw_layout_is_little_endian_row_major(datatype, array, raw):
    assert encode_raw(array) == (datatype, list(array.shape), raw)


def test_raw_encoding_drops_strides():
    transposed = np.arange(6, dtype=np.int32).reshape(2, 3).T
    assert encode_raw(transposed) == ("INT32", [3, 2], np.ascontiguousarray(transposed).tobytes())


def test_raw_byte_size_must_match_the_shape():
    err = expect_invalid(
        lambda: decode_raw("FP32", [2, 3], b"\0" * 20, field="inputs[x]"),
        "INPUT_CONTENT_SIZE_MISMATCH",
        "inputs[x]",
    )
    assert "20 bytes" in err.message and "24 bytes" in err.message
    assert err.metadata == {"expected": "24", "actual": "20"}


def test_raw_bool_bytes_must_be_zero_or_one():
    expect_invalid(
        lambda: decode_raw("BOOL", [2], b"\x01\x02", field="inputs[b]"),
        "INPUT_VALUE_OUT_OF_RANGE",
        "inputs[b]",
    )


def test_unknown_datatype_and_negative_dims_are_refused():
    err = expect_invalid(
        lambda: decode_raw("FLOAT", [1], b"\0" * 4, field="inputs[x]"),
        "INPUT_DATATYPE_UNKNOWN",
        "inputs[x].datatype",
    )
    assert "FP32" in err.message  # lists the valid names
    expect_invalid(
        lambda: decode_raw("FP32", [-1, 3], b"", field="inputs[x]"),
        "INPUT_SHAPE_INVALID",
        "inputs[x].shape",
    )


# --- BYTES -----------------------------------------------------------------------------


def test_bytes_framing_is_a_4_byte_little_endian_length_per_element():
    framed = serialize_bytes(np.array([b"a", "bc", b""], dtype=object))
    assert framed == b"\x01\x00\x00\x00a\x02\x00\x00\x00bc\x00\x00\x00\x00"
    decoded = deserialize_bytes(framed, 3, field="inputs[s]")
    assert decoded.dtype == object and list(decoded) == [b"a", b"bc", b""]


def test_bytes_round_trip_keeps_shape_and_utf8():
    words = np.array([["héllo", "x"], ["", "∑"]], dtype=object)
    datatype, shape, raw = encode_raw(words)
    assert (datatype, shape) == ("BYTES", [2, 2])
    decoded = decode_raw(datatype, shape, raw, field="inputs[s]")
    assert decoded.tolist() == [["héllo".encode(), b"x"], [b"", "∑".encode()]]
    assert encode_raw(np.array([b"ab", b"c"]))[2] == b"\x02\0\0\0ab\x01\0\0\0c"  # |S2 arrays


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x01\x00", "INPUT_BYTES_MALFORMED"),  # length prefix cut short
        (b"\x05\x00\x00\x00abc", "INPUT_BYTES_MALFORMED"),  # claims more than remains
        (b"\x01\x00\x00\x00a", "INPUT_ELEMENT_COUNT_MISMATCH"),  # 1 element, shape needs 2
        (b"\x00\x00\x00\x00" * 3, "INPUT_ELEMENT_COUNT_MISMATCH"),  # 3 elements
    ],
)
def test_malformed_bytes_are_refused(raw, reason):
    expect_invalid(
        lambda: decode_raw(
            "BYTES", [2], raw, field="inputs[s]", data_field="raw_input_contents[0]"
        ),
        reason,
        "raw_input_contents[0]",
    )


def test_bytes_elements_must_be_bytes_or_str():
    with pytest.raises(ValueError, match="int"):
        serialize_bytes(np.array([1, 2], dtype=object))


# --- typed contents --------------------------------------------------------------------


@pytest.mark.parametrize("datatype", TYPED)
def test_typed_round_trip(datatype):
    array = SAMPLES[datatype]
    decoded = decode_contents(datatype, [2, 3], typed(datatype, array), field="inputs[t]")
    assert decoded.dtype == DATATYPES[datatype].dtype
    np.testing.assert_array_equal(decoded, array)


def test_typed_bytes_have_no_length_prefixes():
    contents = pb.InferTensorContents(bytes_contents=[b"a", b"", b"xyz", b"q"])
    decoded = decode_contents("BYTES", [2, 2], contents, field="inputs[s]")
    assert decoded.tolist() == [[b"a", b""], [b"xyz", b"q"]]


@pytest.mark.parametrize("datatype", ["FP16", "BF16"])
def test_half_precision_has_no_typed_list(datatype):
    contents = pb.InferTensorContents(fp32_contents=[1.0])
    err = expect_invalid(
        lambda: decode_contents(datatype, [1], contents, field="inputs[h]"),
        "INPUT_CONTENTS_UNSUPPORTED",
        "inputs[h].contents",
    )
    assert "raw_input_contents" in err.message


def test_values_must_be_in_the_datatypes_list():
    contents = pb.InferTensorContents(int_contents=[1, 2])
    err = expect_invalid(
        lambda: decode_contents("FP32", [2], contents, field="inputs[x]"),
        "INPUT_CONTENTS_MISMATCH",
        "inputs[x].contents",
    )
    assert "fp32_contents" in err.message and "int_contents" in err.message


def test_typed_value_count_must_match_the_shape():
    err = expect_invalid(
        lambda: decode_contents(
            "FP32", [2, 2], pb.InferTensorContents(fp32_contents=[1, 2, 3]), field="inputs[x]"
        ),
        "INPUT_ELEMENT_COUNT_MISMATCH",
        "inputs[x].contents",
    )
    assert err.metadata == {"expected": "4", "actual": "3"}


@pytest.mark.parametrize(
    ("datatype", "contents"),
    [
        ("INT8", pb.InferTensorContents(int_contents=[128])),
        ("INT16", pb.InferTensorContents(int_contents=[-32769])),
        ("UINT8", pb.InferTensorContents(uint_contents=[256])),
        ("UINT16", pb.InferTensorContents(uint_contents=[65536])),
    ],
)
def test_narrow_integers_must_fit_instead_of_wrapping(datatype, contents):
    expect_invalid(
        lambda: decode_contents(datatype, [1], contents, field="inputs[i]"),
        "INPUT_VALUE_OUT_OF_RANGE",
        "inputs[i].contents",
    )


# --- whole requests: raw vs typed ------------------------------------------------------


def fp32(name: str, rows: int, *, contents: bool = False) -> Input:
    tensor = Input(name=name, datatype="FP32", shape=[rows, 3])
    if contents:
        tensor.contents.fp32_contents.extend(range(rows * 3))
    return tensor


def raw(rows: int) -> bytes:
    return np.arange(rows * 3, dtype=np.float32).tobytes()


def test_raw_entries_follow_input_order():
    arrays = decode_inputs([fp32("a", 1), fp32("b", 2)], [raw(1), raw(2)])
    assert [a.shape for a in arrays.values()] == [(1, 3), (2, 3)]
    np.testing.assert_array_equal(arrays["b"].ravel(), range(6))


def test_typed_inputs_without_raw():
    arrays = decode_inputs([fp32("a", 2, contents=True)], [])
    np.testing.assert_array_equal(arrays["a"], np.arange(6, dtype=np.float32).reshape(2, 3))


def test_contents_cannot_be_mixed_with_raw():
    expect_invalid(
        lambda: decode_inputs([fp32("a", 1), fp32("b", 1, contents=True)], [raw(1)]),
        "INPUT_CONTENTS_MIXED",
        "inputs[b].contents",
    )


def test_one_raw_entry_per_input():
    expect_invalid(
        lambda: decode_inputs([fp32("a", 1), fp32("b", 1)], [raw(1)]),
        "INPUT_DATA_MISSING",
        "inputs[b]",
    )
    err = expect_invalid(
        lambda: decode_inputs([fp32("a", 1)], [raw(1), raw(1)]),
        "RAW_INPUT_COUNT_MISMATCH",
        "raw_input_contents",
    )
    assert "2 entries" in err.message and "1 inputs" in err.message


def test_raw_size_errors_name_the_raw_entry():
    expect_invalid(
        lambda: decode_inputs([fp32("a", 1), fp32("b", 1)], [raw(1), raw(2)]),
        "INPUT_CONTENT_SIZE_MISMATCH",
        "raw_input_contents[1]",
    )


def test_an_empty_tensor_needs_no_data():
    arrays = decode_inputs([Input(name="e", datatype="INT64", shape=[0, 2])], [])
    assert arrays["e"].shape == (0, 2) and arrays["e"].dtype == np.int64


def test_duplicate_inputs_and_shared_memory_are_refused():
    expect_invalid(
        lambda: decode_inputs([fp32("a", 1), fp32("a", 1)], [raw(1), raw(1)]),
        "INPUT_DUPLICATE",
        "inputs[a]",
    )
    shm = fp32("a", 1)
    shm.parameters["shared_memory_region"].string_param = "region0"
    expect_invalid(
        lambda: decode_inputs([shm], []),
        "SHARED_MEMORY_UNSUPPORTED",
        "inputs[a].parameters[shared_memory_region]",
    )


def test_datatypes_are_checked_against_the_signature_in_oip_terms():
    spec = ModelSpec(
        name="m",
        description="",
        inputs=(TensorSpec("x", "float32", (-1, 3)),),
        outputs=(TensorSpec("y", "float32", (-1,)),),
        factory=object,
    )
    check_datatypes(spec, [fp32("x", 1), Input(name="other", datatype="BYTES")])
    err = expect_invalid(
        lambda: check_datatypes(spec, [Input(name="x", datatype="INT32", shape=[1, 3])]),
        "INPUT_DTYPE_MISMATCH",
        "inputs[x].datatype",
    )
    assert err.message == "input 'x' has datatype INT32, but model 'm' expects FP32"
    assert err.metadata == {"expected": "FP32", "actual": "INT32"}
    expect_invalid(
        lambda: check_datatypes(spec, [Input(name="x", datatype="fp32")]),
        "INPUT_DATATYPE_UNKNOWN",
        "inputs[x].datatype",
    )


def test_requested_outputs():
    assert requested_outputs([Output(name="b"), Output(name="a")]) == ["b", "a"]
    top = Output(name="p", parameters={"classification": pb.InferParameter(int64_param=3)})
    expect_invalid(
        lambda: requested_outputs([top]),
        "CLASSIFICATION_UNSUPPORTED",
        "outputs[p].parameters[classification]",
    )


# --- parameters ------------------------------------------------------------------------


def params(**values: pb.InferParameter) -> dict[str, pb.InferParameter]:
    return values


def test_parameters_kiln_understands():
    options = parse_parameters(
        params(
            timeout=pb.InferParameter(int64_param=250_000),
            priority=pb.InferParameter(uint64_param=2),
            count=pb.InferParameter(int64_param=8),
            seed=pb.InferParameter(uint64_param=2**64 - 1),
            note=pb.InferParameter(double_param=0.5),  # custom: ignored
            triton_enable_empty_final_response=pb.InferParameter(bool_param=True),
        )
    )
    assert (options.timeout_s, options.count, options.seed) == (0.25, 8, 2**64 - 1)
    assert parse_parameters({}) == RequestOptions()  # nothing asked


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("sequence_id", pb.InferParameter(int64_param=1), "PARAMETER_UNSUPPORTED"),
        ("triton_grpc_error", pb.InferParameter(bool_param=True), "PARAMETER_UNSUPPORTED"),
        ("count", pb.InferParameter(string_param="8"), "PARAMETER_TYPE_INVALID"),
        ("timeout", pb.InferParameter(double_param=1.0), "PARAMETER_TYPE_INVALID"),
        ("seed", pb.InferParameter(int64_param=-1), "PARAMETER_OUT_OF_RANGE"),
        ("priority", pb.InferParameter(int64_param=-3), "PARAMETER_OUT_OF_RANGE"),
    ],
)
def test_bad_parameters(key, value, reason):
    expect_invalid(lambda: parse_parameters({key: value}), reason, f"parameters[{key}]")
