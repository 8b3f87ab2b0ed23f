package org.pageserver.tenant;

import org.pageserver.protocol.tar.TarReader;

/** Feeds the tar archives of a base backup, as they stream in, to the importer. */
final class TarFiles implements TarReader.Listener {
    private final BaseBackupImport importer;
    private TarReader reader;

    TarFiles(BaseBackupImport importer) {
        this.importer = importer;
    }

    void newArchive(String name) {
        finishArchive();
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
            importer.directory(e.name());
        } else if (e.isFile()) {
            importer.fileStart(e.name(), e.size());
        } else if (e.type() == '2' && e.name().startsWith("pg_tblspc/")) {
            throw new IllegalStateException("the primary has a tablespace (" + e.name() + " -> " + e.linkName()
                + "): tablespaces other than pg_default and pg_global are not supported yet");
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
