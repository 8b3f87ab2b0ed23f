package org.pageserver.streams.pgwire;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;

import org.junit.jupiter.api.Test;

class QuerySplitterTest {

    @Test
    void splitsOutsideQuotesAndComments() {
        assertEquals(List.of("select 1", "select 2"), QuerySplitter.split("select 1; select 2;"));
        assertEquals(List.of("select 'a;b'", "x"), QuerySplitter.split("select 'a;b'; x"));
        assertEquals(List.of("select 'it''s;'"), QuerySplitter.split("select 'it''s;'"));
        assertEquals(List.of("select E'\\';'", "y"), QuerySplitter.split("select E'\\';'; y"));
        assertEquals(List.of("select \"a;\"\"b\""), QuerySplitter.split("select \"a;\"\"b\""));
        assertEquals(List.of("select $$a;b$$", "z"), QuerySplitter.split("select $$a;b$$; z"));
        assertEquals(List.of("select $f$ ; $$ ; $f$"), QuerySplitter.split("select $f$ ; $$ ; $f$"));
        assertEquals(List.of("select 1 -- c;", "b"), QuerySplitter.split("select 1 -- c;\n; b"));
        assertEquals(List.of("select /* ; /* ; */ ; */ 1"), QuerySplitter.split("select /* ; /* ; */ ; */ 1"));
        // $1 parameters and identifiers with $ are not dollar quotes
        assertEquals(List.of("select $1", "a$b"), QuerySplitter.split("select $1; a$b"));
    }

    @Test
    void emptyStatementsAreDropped() {
        assertEquals(List.of(), QuerySplitter.split(""));
        assertEquals(List.of(), QuerySplitter.split(" ; ;\n"));
        assertEquals(List.of(), QuerySplitter.split("-- just a comment"));
        assertEquals(List.of(), QuerySplitter.split("/* c */ ; -- d"));
        assertEquals(List.of("a", "b"), QuerySplitter.split(";;a;;b;;"));
    }

    @Test
    void unterminatedQuotesRunToTheEnd() {
        assertEquals(List.of("select 'abc; def"), QuerySplitter.split("select 'abc; def"));
        assertEquals(List.of("select $x$ ;"), QuerySplitter.split("select $x$ ;"));
        assertEquals(List.of("a /* ;"), QuerySplitter.split("a /* ;"));
    }
}
