// Package file reads and writes the file formats of spate's file connector
// as Arrow record batches: JSON lines ("json"), "csv", "parquet" and
// "text". It is the I/O layer under Session.Read and DataFrame.Write, and
// under the streaming file source and sink.
//
// # Reading
//
// [ListFiles] expands a path into data files (recursively, skipping names
// that start with "_" or ".", such as _SUCCESS and _temporary, but not
// hive partition directories col=value; in the output directory of a
// streaming sink, only committed files). [InferSchema] derives a schema
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
// strings are read into float columns. Unknown keys, and keys of columns
// not read, are ignored: their values are only scanned to their end, not
// converted (but a line that is not valid JSON is malformed whichever
// columns are read); a line that is not an object, or a value that does not
// fit its column, is malformed. Inferred struct fields are sorted by name
// (as Spark does), and PERMISSIVE inference over malformed lines adds the
// corrupt-record column.
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
// # Streaming source
//
// [NewStreamSource] watches a directory for new files of one format
// (Structured Streaming's file source). It is a connector.Source of Arrow
// batches with one partition, [StreamPartition] ("files-0"), whose offset n
// is the n-th admitted file: LatestOffsets lists the directory, admits the
// files not seen before into the seen-files log — ordered by modification
// time, then path (newest first with latestFirst) — writes the log
// atomically (package checkpoint) and only then returns the new count.
// Read(range [from, until)) reads the files at log positions from..until-1
// in log order, so a batch re-run after a restart reads exactly the same
// files, whatever arrived or was archived meanwhile. For parallelism,
// engines cut a range with connector.SplitRanges: the pieces read disjoint
// files. The log lives in the metadata directory the engine gives the
// source (inside the query checkpoint, <checkpoint>/sources/<i>/, through
// [StreamSourceOptions].MetadataDir, option metadataDir, or
// [StreamSource.SetMetadataDir] before the query starts): one file per
// admission ("<first offset>"), compacted every 10 admissions into
// "<count>.compact". A compaction also purges, from the front of the log,
// files of committed batches ([StreamSource.Commit]) that are older than
// maxFileAge before the newest admitted file: committed ranges are never
// read again, and the age filter keeps those files out if they are listed
// again, so the log holds about maxFileAge worth of files rather than the
// query's whole history. Without a metadata directory the log is kept in
// memory (a restarted query cannot replay). Files must appear atomically
// (written elsewhere and renamed into the directory): a file is admitted
// once, with the size it has when listed.
//
// Source options (with the format's read options in the same map, passed
// through to [ReadFile]; malformed records follow the mode option and are
// counted in [StreamSource.Stats]). A streaming query reads the source
// with [StreamSource.ReadCountingMalformed], so each batch's progress
// has the records it dropped in DROPMALFORMED mode
// (numDroppedMalformedRows of its source); in FAILFAST mode the first
// malformed record fails the batch, and the query stops with an error
// wrapping [ErrMalformed] that names the file and line:
//
//	name                meaning                                                           default
//	maxFilesPerTrigger  most files per batch (StreamSource.Limits); also caps admission:  none
//	                    at most this many files are admitted but not yet read
//	latestFirst         admit the newest files first                                      false
//	maxFileAge          ignore files older than this, measured from the newest file       7d
//	                    admitted so far (not the clock); not applied to the first
//	                    listing, nor with latestFirst and maxFilesPerTrigger;
//	                    Go durations plus d (days) and w (weeks)
//	cleanSource         after the batch that read a file committed (Commit): off,         off
//	                    delete, or archive (move below sourceArchiveDir, keeping the
//	                    path relative to the source directory)
//	sourceArchiveDir    archive directory; must be outside the source directory           (none)
//	pathGlobFilter      admit only files whose base name matches this pattern             (all)
//	ignoreMissingFiles  skip admitted files that disappeared instead of failing           false
//	inferSchema         infer the schema from the files present at the start              false
//	                    (stored in the metadata directory, so a restart keeps it);
//	                    otherwise a schema is required, except for text
//	metadataDir         the seen-files log directory                                      (memory)
//
// # Streaming sink
//
// [NewStreamSink] writes each micro-batch (connector.BatchSink of Arrow
// batches) as one set of part files, part-00000-batch<id>.<ext> (under
// col=value/ directories with PartitionBy), through a [WriteJob] whose id
// derives from the batch id, then records the batch and its files in the
// sink metadata log, path/_spate_metadata/<batch id>, written atomically.
// A batch id at or below the last one in the log is skipped; a batch that
// failed between its files and its log entry is rewritten under the same
// names, replacing the failed attempt's files. Readers see only committed
// batches: [CommittedFiles], and [ListFiles]/[ListFileInfos] on a directory
// with a _spate_metadata log (so batch reads and the streaming source of
// such a directory skip uncommitted files). Every compactInterval batches
// the log is compacted into one file "<batch id>.compact" and the files it
// covers are removed, so the log directory holds at most compactInterval+1
// files; with retention, the compaction also drops batches committed longer
// ago than the retention (their files stay on disk but are no longer
// listed), so the compacted log stops growing with the query's age. A log
// written by another query id is refused ([ErrOtherQuery]).
//
// Sink options (with the format's write options in the same map):
//
//	name             meaning                                                      default
//	compactInterval  batches between compactions of the metadata log              10
//	retention        drop log entries older than this at compaction (7d, 12h)     (keep all)
//
// # Memory and concurrency
//
// Batches are allocated from [ReadOptions.Alloc]; the emit callback owns
// each batch and must release it. WritePartition does not take ownership of
// its batches. ReadFile and InferSchema are safe for concurrent use; a
// WriteJob is safe for concurrent WritePartition calls on different
// partitions.
package file
