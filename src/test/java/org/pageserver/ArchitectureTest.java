package org.pageserver;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.Architectures.layeredArchitecture;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The layer rule of DEVELOPERS.md: actors -> streams -> protocol, actors -> redo -> protocol;
 * protocol and redo know nothing of Pekko.
 */
class ArchitectureTest {
    static JavaClasses classes;

    @BeforeAll
    static void importClasses() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
            .importPackages("org.pageserver");
    }

    @Test
    void layersPointOneWay() {
        layeredArchitecture().consideringOnlyDependenciesInLayers()
            .layer("protocol").definedBy("org.pageserver.protocol..")
            .layer("redo").definedBy("org.pageserver.redo..")
            .layer("streams").definedBy("org.pageserver.streams..")
            .layer("actors").definedBy("org.pageserver", "org.pageserver.tenant..", "org.pageserver.storage..",
                "org.pageserver.backup..",
                "org.pageserver.server..", "org.pageserver.cli..", "org.pageserver.client..",
                "org.pageserver.metrics..", "org.pageserver.http..")
            .whereLayer("actors").mayNotBeAccessedByAnyLayer()
            .whereLayer("streams").mayOnlyBeAccessedByLayers("actors")
            .whereLayer("redo").mayOnlyBeAccessedByLayers("actors")
            .whereLayer("protocol").mayOnlyBeAccessedByLayers("redo", "streams", "actors")
            .check(classes);
    }

    @Test
    void protocolAndRedoKnowNothingOfPekko() {
        noClasses().that().resideInAnyPackage("org.pageserver.protocol..", "org.pageserver.redo..")
            .should().dependOnClassesThat().resideInAnyPackage("org.apache.pekko..", "scala..")
            .check(classes);
    }

    @Test
    void theBaseBackupEngineKnowsNothingOfPekko() {
        noClasses().that().resideInAPackage("org.pageserver.backup..")
            .should().dependOnClassesThat().resideInAnyPackage("org.apache.pekko..", "scala..")
            .check(classes);
    }

    @Test
    void theStorageEngineKnowsNothingOfPekko() {
        noClasses().that().resideInAPackage("org.pageserver.storage..")
            .should().dependOnClassesThat().resideInAnyPackage("org.apache.pekko..", "scala..")
            .check(classes);
    }

    @Test
    void redoIsPureAndDoesNoIo() {
        noClasses().that().resideInAPackage("org.pageserver.redo..")
            .should().dependOnClassesThat().resideInAnyPackage("java.nio.file..", "java.net..", "org.rocksdb..")
            .check(classes);
    }
}
