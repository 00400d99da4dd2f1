//! Macros that run generic code for a dtype known only at run time: the one place a
//! [`crate::DType`] becomes an element type. Depends on nothing else in the crate.

/// Runs `$body` with the type alias `$t` set to the element type of `$dtype`, for the
/// dtypes listed before `;` (as `Variant => type`), and `$other` for the rest.
macro_rules! dispatch {
    ($dtype:expr, $t:ident => $body:expr, $other:expr; $($variant:ident => $ty:ty),*) => {
        match $dtype {
            $($crate::DType::$variant => {
                type $t = $ty;
                $body
            })*
            #[allow(unreachable_patterns)]
            _ => $other,
        }
    };
}

/// Runs `$body` with the type alias `$t` set to the element type of `$dtype`.
macro_rules! for_dtype {
    ($dtype:expr, $t:ident => $body:expr) => {
        $crate::dispatch::dispatch!($dtype, $t => $body, unreachable!("every dtype");
            Bool => bool, I8 => i8, U8 => u8, I16 => i16, U16 => u16, I32 => i32,
            U32 => u32, I64 => i64, U64 => u64, F16 => $crate::F16, F32 => f32, F64 => f64)
    };
}

/// As [`for_dtype`] over the numeric dtypes; `$other` for bool.
macro_rules! for_numeric {
    ($dtype:expr, $t:ident => $body:expr, $other:expr) => {
        $crate::dispatch::dispatch!($dtype, $t => $body, $other;
            I8 => i8, U8 => u8, I16 => i16, U16 => u16, I32 => i32, U32 => u32,
            I64 => i64, U64 => u64, F16 => $crate::F16, F32 => f32, F64 => f64)
    };
}

/// As [`for_dtype`] over the float dtypes; `$other` for the rest.
macro_rules! for_float {
    ($dtype:expr, $t:ident => $body:expr, $other:expr) => {
        $crate::dispatch::dispatch!($dtype, $t => $body, $other;
            F16 => $crate::F16, F32 => f32, F64 => f64)
    };
}

pub(crate) use {dispatch, for_dtype, for_float, for_numeric};
