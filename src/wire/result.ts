export type Ok<T> = { ok: true; value: T };
export type Err<E = string> = { ok: false; error: E };
export type Result<T, E = DecodeError> = Ok<T> | Err<E>;
export interface DecodeError { code: string; message: string }
export const ok = <T>(value: T): Ok<T> => ({ ok: true, value });
export const err = (code: string, message: string): Err<DecodeError> => ({ ok: false, error: { code, message } });
