//! Conversions between [`ndarray`] arrays and Kiln's wire tensors.
//!
//! A [`Tensor`] travels as an element type, a shape and one block of row-major (C order),
//! little-endian bytes. [`to_tensor`] encodes any array (whatever its memory layout) and
//! [`from_tensor`] decodes into an owned [`ArrayD`] of the matching element type.

use ndarray::{ArrayBase, ArrayD, Data, Dimension, IxDyn};
use tonic::Code;

use crate::v1::{DataType, Tensor};
use crate::Error;

mod sealed {
    pub trait Sealed {}
}

/// An element type Kiln tensors can hold: `bool`, `i8`–`i64`, `u8`–`u64`, `f32`, `f64`.
///
/// Sealed: implemented for exactly those types.
pub trait Element: Copy + sealed::Sealed {
    /// The wire type of this element type.
    const DTYPE: DataType;
    /// Bytes per element on the wire.
    const SIZE: usize;
    /// Appends this element's little-endian bytes.
    fn put_le(self, out: &mut Vec<u8>);
    /// Reads one element from exactly [`SIZE`](Element::SIZE) little-endian bytes.
    fn get_le(bytes: &[u8]) -> Self;
}

macro_rules! numeric_element {
    ($($t:ty => $dtype:ident),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DTYPE: DataType = DataType::$dtype;
            const SIZE: usize = std::mem::size_of::<$t>();
            fn put_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn get_le(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes.try_into().expect("element width"))
            }
        }
    )*};
}

numeric_element! {
    i8 => Int8, i16 => Int16, i32 => Int32, i64 => Int64,
    u8 => Uint8, u16 => Uint16, u32 => Uint32, u64 => Uint64,
    f32 => Float32, f64 => Float64,
}

impl sealed::Sealed for bool {}
impl Element for bool {
    const DTYPE: DataType = DataType::Bool;
    const SIZE: usize = 1;
    fn put_le(self, out: &mut Vec<u8>) {
        out.push(u8::from(self));
    }
    fn get_le(bytes: &[u8]) -> Self {
        bytes[0] != 0
    }
}

/// The size in bytes of one element of `dtype`, or `None` for `DATA_TYPE_UNSPECIFIED`.
pub fn element_size(dtype: DataType) -> Option<usize> {
    match dtype {
        DataType::Unspecified => None,
        DataType::Bool | DataType::Int8 | DataType::Uint8 => Some(1),
        DataType::Int16 | DataType::Uint16 | DataType::Float16 | DataType::Bfloat16 => Some(2),
        DataType::Int32 | DataType::Uint32 | DataType::Float32 => Some(4),
        DataType::Int64 | DataType::Uint64 | DataType::Float64 => Some(8),
    }
}

/// Encodes an array as a wire tensor (row-major, little-endian, whatever the array's layout).
///
/// ```
/// use kiln_client::{from_tensor, to_tensor};
/// use ndarray::{ArrayD, IxDyn};
///
/// let image = ArrayD::<f32>::zeros(IxDyn(&[1, 28, 28, 1]));
/// let tensor = to_tensor(&image);
/// assert_eq!(tensor.shape, vec![1, 28, 28, 1]);
/// assert_eq!(from_tensor::<f32>(&tensor).unwrap(), image);
/// ```
pub fn to_tensor<T, S, D>(array: &ArrayBase<S, D>) -> Tensor
where
    T: Element,
    S: Data<Elem = T>,
    D: Dimension,
{
    let mut content = Vec::with_capacity(array.len() * T::SIZE);
    // `iter` walks in logical row-major order, so transposed or sliced views encode correctly.
    for &value in array.iter() {
        value.put_le(&mut content);
    }
    Tensor {
        dtype: T::DTYPE as i32,
        shape: array.shape().iter().map(|&dim| dim as i64).collect(),
        content,
    }
}

/// Decodes a wire tensor into an owned array of element type `T`.
///
/// # Errors
///
/// `InvalidArgument` if the tensor's dtype is not `T`'s, a dimension is negative, or the
/// content length does not match the shape.
pub fn from_tensor<T: Element>(tensor: &Tensor) -> Result<ArrayD<T>, Error> {
    let dtype = DataType::try_from(tensor.dtype).unwrap_or(DataType::Unspecified);
    if dtype != T::DTYPE {
        return Err(Error::local(
            Code::InvalidArgument,
            format!(
                "tensor is {}, not {}",
                dtype.as_str_name(),
                T::DTYPE.as_str_name()
            ),
        ));
    }
    let shape = tensor
        .shape
        .iter()
        .map(|&dim| usize::try_from(dim))
        .collect::<Result<Vec<usize>, _>>()
        .map_err(|_| {
            Error::local(
                Code::InvalidArgument,
                format!("negative dimension in shape {:?}", tensor.shape),
            )
        })?;
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &dim| acc.checked_mul(dim));
    if count.and_then(|n| n.checked_mul(T::SIZE)) != Some(tensor.content.len()) {
        return Err(Error::local(
            Code::InvalidArgument,
            format!(
                "{}{:?} needs {} content bytes, got {}",
                dtype.as_str_name(),
                tensor.shape,
                count.map_or("too many".to_owned(), |n| (n * T::SIZE).to_string()),
                tensor.content.len()
            ),
        ));
    }
    let values: Vec<T> = tensor
        .content
        .chunks_exact(T::SIZE)
        .map(T::get_le)
        .collect();
    ArrayD::from_shape_vec(IxDyn(&shape), values)
        .map_err(|e| Error::local(Code::InvalidArgument, e.to_string()).with_source(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{array, Array2};

    #[test]
    fn floats_are_little_endian_row_major() {
        let a = array![[1.0f32, -2.5, 0.0], [3.25, 1e-3, 7.0]];
        let t = to_tensor(&a);
        assert_eq!(t.dtype, DataType::Float32 as i32);
        assert_eq!(t.shape, vec![2, 3]);
        assert_eq!(t.content.len(), 24);
        assert_eq!(&t.content[..4], &[0x00, 0x00, 0x80, 0x3f]); // 1.0f32
        assert_eq!(from_tensor::<f32>(&t).unwrap(), a.into_dyn());
    }

    #[test]
    fn transposed_view_encodes_in_logical_order() {
        let a = Array2::from_shape_vec((2, 3), vec![1i64, 2, 3, 4, 5, 6]).unwrap();
        let t = to_tensor(&a.t());
        assert_eq!(t.shape, vec![3, 2]);
        let back = from_tensor::<i64>(&t).unwrap();
        assert_eq!(back.as_slice().unwrap(), &[1, 4, 2, 5, 3, 6]);
    }

    #[test]
    fn int64_and_other_types_round_trip() {
        let a = array![i64::MIN, -1, 0, 8, i64::MAX];
        assert_eq!(from_tensor::<i64>(&to_tensor(&a)).unwrap(), a.into_dyn());
        let b = array![true, false, true];
        assert_eq!(to_tensor(&b).content, vec![1, 0, 1]);
        assert_eq!(from_tensor::<bool>(&to_tensor(&b)).unwrap(), b.into_dyn());
        let c = array![0.1f64, -1e300];
        assert_eq!(from_tensor::<f64>(&to_tensor(&c)).unwrap(), c.into_dyn());
        let d = array![255u8, 1];
        assert_eq!(from_tensor::<u8>(&to_tensor(&d)).unwrap(), d.into_dyn());
    }

    #[test]
    fn scalar_has_no_dimensions() {
        let t = Tensor {
            dtype: DataType::Float32 as i32,
            shape: vec![],
            content: 2.0f32.to_le_bytes().to_vec(),
        };
        let a = from_tensor::<f32>(&t).unwrap();
        assert_eq!(a.ndim(), 0);
        assert_eq!(a[IxDyn(&[])], 2.0);
    }

    #[test]
    fn rejects_mismatches() {
        let t = to_tensor(&array![1i32, 2]);
        assert_eq!(
            from_tensor::<f32>(&t).unwrap_err().code(),
            Code::InvalidArgument
        );
        let short = Tensor {
            dtype: DataType::Float32 as i32,
            shape: vec![2],
            content: vec![0; 7],
        };
        assert!(from_tensor::<f32>(&short).is_err());
        let negative = Tensor {
            dtype: DataType::Int8 as i32,
            shape: vec![-1],
            content: vec![],
        };
        assert!(from_tensor::<i8>(&negative).is_err());
    }

    #[test]
    fn element_sizes() {
        assert_eq!(element_size(DataType::Bfloat16), Some(2));
        assert_eq!(element_size(DataType::Uint64), Some(8));
        assert_eq!(element_size(DataType::Unspecified), None);
    }
}
