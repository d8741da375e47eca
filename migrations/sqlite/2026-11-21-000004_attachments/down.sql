DROP TABLE application_attachments;
