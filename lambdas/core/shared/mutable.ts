/** A record type with its `readonly` dropped, for building one field by field before it is handed out. */
export type Mutable<T> = { -readonly [K in keyof T]: T[K] };
