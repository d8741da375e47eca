DROP INDEX catalogue_successors_new_code;
DROP TABLE catalogue_successors;
