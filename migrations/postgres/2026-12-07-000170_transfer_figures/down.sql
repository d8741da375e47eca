DROP TRIGGER transfer_figures_of_step ON application_steps;
DROP FUNCTION transfer_figures_of_step();
DROP TRIGGER transfer_figures_of_case ON transfer_applications;
DROP FUNCTION transfer_figures_of_case();
DROP TABLE transfer_figures;
