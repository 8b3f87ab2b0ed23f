package org.pageserver.mount;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

/**
 * Unpacks a base backup tar into a directory, durably: every file forced, then every
 * directory, so the clone's state file written afterwards never describes a half-written
 * upper directory.
 */
final class BackupExtractor {
    private BackupExtractor() {
    }

    /** Returns the number of files written. */
    static int extract(InputStream tar, Path into) throws IOException {
        Path root = into.toAbsolutePath().normalize();
        List<Path> dirs = new ArrayList<>();
        dirs.add(root);
        int files = 0;
        TarArchiveInputStream in = new TarArchiveInputStream(tar);
        TarArchiveEntry e;
        while ((e = in.getNextEntry()) != null) {
            Path target = root.resolve(e.getName()).normalize();
            if (!target.startsWith(root)) {
                throw new IOException("base backup entry outside the data directory: " + e.getName());
            }
            if (e.isDirectory()) {
                Files.createDirectories(target);
                dirs.add(target);
            } else if (e.isSymbolicLink()) {
                Files.createDirectories(target.getParent());
                Files.createSymbolicLink(target, Path.of(e.getLinkName()));
            } else {
                Files.createDirectories(target.getParent());
                try (OutputStream out = Files.newOutputStream(target)) {
                    in.transferTo(out);
                }
                try (FileChannel ch = FileChannel.open(target, StandardOpenOption.WRITE)) {
                    ch.force(true);
                }
                files++;
            }
        }
        for (Path d : dirs) {
            try (FileChannel ch = FileChannel.open(d, StandardOpenOption.READ)) {
                ch.force(true);
            }
        }
        return files;
    }
}
