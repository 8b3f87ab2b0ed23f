package org.pageserver.storage;

import org.pageserver.protocol.BufferTag;

/**
 * Rebuilds a block from its history (the redo GetPage@LSN does), for the images the store
 * makes itself. Given by the caller so that the storage engine does not depend on who redoes.
 */
@FunctionalInterface
public interface PageRebuilder {
    /** @throws RuntimeException when a record cannot be redone: the block keeps its versions */
    byte[] rebuild(PageHistory history, BufferTag tag);
}
