package org.pageserver.protocol.tar;

import java.nio.charset.StandardCharsets;

/**
 * A streaming reader of the ustar archives that BASE_BACKUP sends (tarCreateHeader in
 * src/port/tar.c writes them): fed arbitrary pieces, it reports each entry, its data and its end.
 *
 * <pre>
 * header block (512 bytes):
 *   0 name[100]  100 mode[8]  108 uid[8]  116 gid[8]  124 size[12]  136 mtime[12]
 * 148 chksum[8]  156 typeflag  157 linkname[100]  257 magic "ustar"  263 version[2]
 * 265 uname[32]  297 gname[32]  329 devmajor[8]  337 devminor[8]  345 prefix[155]
 * then the data, padded to a multiple of 512; two zero blocks end the archive.
 * </pre>
 * Numbers are octal text, or base-256 binary when the first byte has its high bit set.
 */
public final class TarReader {
    public static final int BLOCK = 512;

    /** One archive member. {@code type}: '0' file, '5' directory, '2' symlink, ... */
    public record Entry(String name, long size, char type, int mode, long mtime, String linkName) {
        public boolean isFile() {
            return type == '0' || type == '\0';
        }

        public boolean isDirectory() {
            return type == '5';
        }
    }

    /** Receives the archive's contents, in order. */
    public interface Listener {
        void entryStart(Entry entry);

        void entryData(byte[] buf, int off, int len);

        void entryEnd(Entry entry);
    }

    private enum State { HEADER, DATA, PAD, END }

    private final Listener listener;
    private final byte[] header = new byte[BLOCK];
    private int headerFill;
    private State state = State.HEADER;
    private Entry current;
    private long remaining;
    private int pad;
    private long offset;

    public TarReader(Listener listener) {
        this.listener = listener;
    }

    public void feed(byte[] buf, int off, int len) {
        int end = off + len;
        while (off < end) {
            int avail = end - off;
            switch (state) {
                case HEADER -> {
                    int n = Math.min(BLOCK - headerFill, avail);
                    System.arraycopy(buf, off, header, headerFill, n);
                    headerFill += n;
                    off += n;
                    offset += n;
                    if (headerFill == BLOCK) {
                        headerFill = 0;
                        header();
                    }
                }
                case DATA -> {
                    int n = (int) Math.min(remaining, avail);
                    listener.entryData(buf, off, n);
                    off += n;
                    offset += n;
                    remaining -= n;
                    if (remaining == 0) {
                        endEntry();
                    }
                }
                case PAD -> {
                    int n = Math.min(pad, avail);
                    off += n;
                    offset += n;
                    pad -= n;
                    if (pad == 0) {
                        state = State.HEADER;
                    }
                }
                case END -> {
                    offset += avail;
                    off = end;
                }
            }
        }
    }

    /** The archive must have ended cleanly (or at least not inside an entry). */
    public void finish() {
        if (state == State.DATA || state == State.PAD || headerFill != 0) {
            throw new TarException("tar archive truncated", offset);
        }
    }

    public boolean ended() {
        return state == State.END;
    }

    private void endEntry() {
        Entry e = current;
        current = null;
        listener.entryEnd(e);
        pad = (int) ((BLOCK - e.size() % BLOCK) % BLOCK);
        state = pad == 0 ? State.HEADER : State.PAD;
    }

    private void header() {
        long at = offset - BLOCK;
        boolean zero = true;
        for (byte x : header) {
            if (x != 0) {
                zero = false;
                break;
            }
        }
        if (zero) {
            state = State.END;
            return;
        }
        long sum = 0;
        for (int i = 0; i < BLOCK; i++) {
            sum += (i >= 148 && i < 156) ? ' ' : header[i] & 0xFF;
        }
        long stored = number(148, 8, at);
        if (stored != sum) {
            throw new TarException("tar header checksum mismatch (stored " + stored + ", computed " + sum + ")", at);
        }
        String name = string(0, 100);
        String prefix = string(345, 155);
        if (!prefix.isEmpty()) {
            name = prefix + "/" + name;
        }
        while (name.endsWith("/")) {
            name = name.substring(0, name.length() - 1);
        }
        if (name.isEmpty()) {
            throw new TarException("tar entry without a name", at);
        }
        long size = number(124, 12, at);
        if (size < 0) {
            throw new TarException("negative tar entry size", at);
        }
        char type = (char) (header[156] & 0xFF);
        current = new Entry(name, size, type, (int) number(100, 8, at), number(136, 12, at), string(157, 100));
        listener.entryStart(current);
        remaining = size;
        if (size == 0) {
            endEntry();
        } else {
            state = State.DATA;
        }
    }

    private String string(int off, int len) {
        int n = 0;
        while (n < len && header[off + n] != 0) {
            n++;
        }
        return new String(header, off, n, StandardCharsets.UTF_8);
    }

    private long number(int off, int len, long at) {
        if ((header[off] & 0x80) != 0) {
            // base-256: big-endian two's complement in the remaining bits
            long v = header[off] & 0x7F;
            for (int i = 1; i < len; i++) {
                if ((v >>> 55) != 0) {
                    throw new TarException("tar number too large", at);
                }
                v = (v << 8) | (header[off + i] & 0xFF);
            }
            return v;
        }
        long v = 0;
        boolean digits = false;
        for (int i = 0; i < len; i++) {
            int c = header[off + i] & 0xFF;
            if (c == 0 || c == ' ') {
                if (digits) {
                    break;
                }
                continue;
            }
            if (c < '0' || c > '7') {
                throw new TarException("invalid octal number in tar header", at);
            }
            digits = true;
            v = v * 8 + (c - '0');
            if (v > (1L << 50)) {
                throw new TarException("tar number too large", at);
            }
        }
        return v;
    }
}
