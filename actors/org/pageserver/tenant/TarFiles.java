package org.pageserver.tenant;

import org.pageserver.protocol.tar.TarReader;

/**
 * Feeds the tar archives of a base backup, as they stream in, to the importer. The data
 * directory's archive holds paths relative to it; a tablespace's archive holds paths relative to
 * the tablespace's location ({@code PG_15_202209061/<db>/<relfilenode>}), which become the paths
 * PostgreSQL sees them at through the link: {@code pg_tblspc/<oid>/PG_15_202209061/...}.
 */
final class TarFiles implements TarReader.Listener {
    private final BaseBackupImport importer;
    private TarReader reader;
    /** What the current archive's paths are relative to: "" or "pg_tblspc/<oid>/". */
    private String prefix = "";

    TarFiles(BaseBackupImport importer) {
        this.importer = importer;
    }

    /** The data directory's archive. */
    void newArchive(String name) {
        newArchive(name, "");
    }

    /** A tablespace's archive: its files are under pg_tblspc/{@code tablespaceOid}/. */
    void newTablespaceArchive(String name, int tablespaceOid) {
        newArchive(name, "pg_tblspc/" + Integer.toUnsignedString(tablespaceOid) + "/");
    }

    private void newArchive(String name, String pathPrefix) {
        finishArchive();
        prefix = pathPrefix;
        reader = new TarReader(this);
    }

    void feed(byte[] buf, int off, int len) {
        if (reader == null) {
            throw new IllegalStateException("base backup data before any archive");
        }
        reader.feed(buf, off, len);
    }

    void finish() {
        finishArchive();
    }

    private void finishArchive() {
        if (reader != null) {
            reader.finish();
            reader = null;
        }
    }

    @Override
    public void entryStart(TarReader.Entry e) {
        if (e.isDirectory()) {
            importer.directory(prefix + e.name());
        } else if (e.isFile()) {
            importer.fileStart(prefix + e.name(), e.size());
        } else if (e.type() == '2' && prefix.isEmpty()) {
            // a tablespace's link, pg_tblspc/<oid> -> its location
            importer.symlink(e.name(), e.linkName());
        }
    }

    @Override
    public void entryData(byte[] buf, int off, int len) {
        importer.fileData(buf, off, len);
    }

    @Override
    public void entryEnd(TarReader.Entry e) {
        if (e.isFile()) {
            importer.fileEnd();
        }
    }
}
