// Package file reads and writes the file formats of spate's file connector
// as Arrow record batches: JSON lines ("json"), "csv", "parquet" and
// "text". It is the I/O layer under Session.Read and DataFrame.Write, and
// under the streaming file source and sink.
//
// # Reading
//
// [ListFiles] expands a path into data files (recursively, skipping names
// that start with "_" or ".", such as _SUCCESS and _temporary, but not
// hive partition directories col=value). [InferSchema] derives a schema
// from sampled records, and [ReadFile] reads one file into batches of at
// most [ReadOptions.BatchRows] rows, which the emit callback owns and
// releases. [ReadOptions.Range] with [Splits] lets several tasks share one
// large file (line starts for CSV, JSON lines and text; row groups for
// Parquet). A schema column named after a partition directory of the path
// is filled from the path ([PartitionValues]); a column absent from the
// file is null.
//
// CSV and JSON records that do not fit the schema are handled by the mode
// option, as in Spark: PERMISSIVE (default) emits a row of nulls and puts
// the raw record into the corrupt-record column when the schema has one;
// DROPMALFORMED drops the record; FAILFAST stops with an error wrapping
// [ErrMalformed] that names the file and line. [ReadStats] counts malformed
// and dropped records. Only the columns read (after projection) are checked.
//
// Parquet files are read through arrow-go's pqarrow. Columns match by name;
// a column whose file type differs is converted between numeric types and
// between timestamp units (a value that does not fit is an error), from
// date to timestamp, and from numbers and booleans to string; other type
// differences are an error naming the column and both types. List element
// names and field metadata may differ. [ReadOptions.Filters] skip whole
// row groups whose min/max statistics prove a [Predicate] false
// ([ReadStats.RowGroupsSkipped]); rows are never filtered one by one, so
// callers re-apply their filter.
//
// # Writing
//
// A [WriteJob] writes one dataset: [NewWriteJob] checks the [SaveMode],
// tasks call [WriteJob.WritePartition] concurrently (files
// part-<5-digit partition>-<job id>.<ext> in target/_temporary/<job id>/,
// under col=value/ directories with PartitionBy), and [WriteJob.Commit]
// moves the files into place with one rename each, writes _SUCCESS and
// removes the temporary directory; [WriteJob.Abort] removes it instead.
// SaveOverwrite deletes the old contents only in Commit.
//
// # Options
//
// Option names are case-insensitive. Options shared by CSV and JSON:
//
//	name                       meaning                                                      default
//	mode                       PERMISSIVE, DROPMALFORMED or FAILFAST                        PERMISSIVE
//	columnNameOfCorruptRecord  string column that receives malformed records' raw text      _corrupt_record
//	timestampFormat            Spark datetime pattern for timestamps (read and write);      RFC 3339 and "yyyy-MM-dd HH:mm:ss[.f]"
//	                           [optional] sections allowed                                  (write: RFC 3339 with fraction)
//	dateFormat                 pattern for dates                                            yyyy-MM-dd
//	timeZone                   IANA zone of timestamps that carry no offset (read)          UTC
//	samplingRatio              fraction of records schema inference reads (0, 1]            1
//	inferSchemaMaxRows         most records inference reads in all (0: no limit)            0
//	compression                write: none or gzip (files .gz are read decompressed)        none
//
// CSV:
//
//	name         meaning                                                                default
//	header       first line holds column names (read: skipped, used to match columns    true (Spark: false)
//	             by name; write: written)
//	sep          field separator, one byte; "delimiter" is an alias; \t for tab          ,
//	quote        quote character; "" disables quoting                                    "
//	escape       character that escapes a quote inside quotes (doubled quotes work too)  \
//	comment      lines starting with this character are skipped                          (none)
//	nullValue    unquoted text read as null, and written for nulls                       "" (empty)
//	inferSchema  infer column types from the data; otherwise every column is a string    false
//	multiLine    quoted fields may span lines                                            false
//
// When the header holds at least one of the schema's column names, columns
// match by name (schema columns missing from the header are null);
// otherwise they match by position. A record with a different number of
// fields than the header (or the schema, without header) is malformed, as
// is a field that does not parse as its column's type. An unquoted empty
// field is null for non-string columns; a quoted empty field is the empty
// string. Inference widens int64 → float64 → string; values in dateFormat
// are dates and values in timestampFormat timestamps (µs, UTC), a date
// column with timestamps is a timestamp column; booleans, dates or
// timestamps mixed with other kinds, and columns with only nulls, are
// strings.
//
// JSON lines: one object per line; blank lines are skipped. With option
// multiLine=true (default false) each file is one JSON document instead: an
// array whose elements are the records, or a single object. Objects map to
// structs, arrays to lists; a value of any kind read into a string column
// keeps its JSON text; numbers read into timestamp columns are seconds
// since the epoch; binary is base64; "NaN", "Infinity" and "-Infinity"
// strings are read into float columns. Unknown keys are ignored; a line
// that is not an object, or a value that does not fit its column, is
// malformed. Inferred struct fields are sorted by name (as Spark does), and
// PERMISSIVE inference over malformed lines adds the corrupt-record column.
// JSON write option ignoreNullFields (default true) omits null fields.
//
// Text: one row per line in a single string column "value"; option
// wholetext=true (default false) reads each file as one row. Writing needs
// a schema of exactly one string column; nulls are written as empty lines.
//
// Parquet read option mergeSchema=true (default false) makes InferSchema
// take the union of all files' columns instead of the first file's schema.
//
// Parquet write options:
//
//	name               meaning                                                   default
//	compression        none, snappy, gzip, zstd, lz4, brotli ("codec" alias)     zstd
//	compressionLevel   codec level (0: the codec's default)                      0
//	rowGroupRows       most rows per row group (a group also closes at 128 MiB)  1048576
//
// # Memory and concurrency
//
// Batches are allocated from [ReadOptions.Alloc]; the emit callback owns
// each batch and must release it. WritePartition does not take ownership of
// its batches. ReadFile and InferSchema are safe for concurrent use; a
// WriteJob is safe for concurrent WritePartition calls on different
// partitions.
package file
